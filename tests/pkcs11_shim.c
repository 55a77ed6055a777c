/*
 * A PKCS#11 module for tests: it forwards every call to the real module
 * named by ONEM2M_SHIM_MODULE (SoftHSM2) and fails on demand, so that a
 * test can make a real token misbehave the way a removed or broken one
 * does.
 *
 *  - ONEM2M_SHIM_FAIL: a file; while it exists, C_OpenSession and
 *    C_SignInit return the CK_RV written in it (e.g. "0x32",
 *    CKR_DEVICE_REMOVED) without reaching the real module.
 *  - ONEM2M_SHIM_LOG: a file; the names of C_Login and C_OpenSession are
 *    appended to it, one a line, so that a test can count them.
 */

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST* real;
static CK_FUNCTION_LIST shim;

/* Injected returns the CK_RV to fail with, or CKR_OK to pass through. */
static CK_RV Injected(void) {
  const char* path = getenv("ONEM2M_SHIM_FAIL");
  if (path == NULL) {
    return CKR_OK;
  }
  FILE* f = fopen(path, "r");
  if (f == NULL) {
    return CKR_OK;
  }
  unsigned long rv = CKR_OK;
  if (fscanf(f, "%li", (long*)&rv) != 1) {
    rv = CKR_GENERAL_ERROR;
  }
  fclose(f);
  return rv;
}

static void Log(const char* name) {
  const char* path = getenv("ONEM2M_SHIM_LOG");
  if (path == NULL) {
    return;
  }
  FILE* f = fopen(path, "a");
  if (f != NULL) {
    fprintf(f, "%s\n", name);
    fclose(f);
  }
}

static CK_RV ShimOpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void* app,
                             CK_NOTIFY notify, CK_SESSION_HANDLE* session) {
  Log("C_OpenSession");
  CK_RV rv = Injected();
  if (rv != CKR_OK) {
    return rv;
  }
  return real->C_OpenSession(slot, flags, app, notify, session);
}

static CK_RV ShimSignInit(CK_SESSION_HANDLE session, CK_MECHANISM* mechanism,
                          CK_OBJECT_HANDLE key) {
  CK_RV rv = Injected();
  if (rv != CKR_OK) {
    return rv;
  }
  return real->C_SignInit(session, mechanism, key);
}

static CK_RV ShimLogin(CK_SESSION_HANDLE session, CK_USER_TYPE user,
                       unsigned char* pin, CK_ULONG pin_len) {
  Log("C_Login");
  return real->C_Login(session, user, pin, pin_len);
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST** list) {
  if (real == NULL) {
    const char* path = getenv("ONEM2M_SHIM_MODULE");
    void* handle = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (handle == NULL) {
      return CKR_GENERAL_ERROR;
    }
    CK_C_GetFunctionList get =
        (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList");
    if (get == NULL || get(&real) != CKR_OK) {
      return CKR_GENERAL_ERROR;
    }
    memcpy(&shim, real, sizeof(shim));
    shim.C_OpenSession = ShimOpenSession;
    shim.C_SignInit = ShimSignInit;
    shim.C_Login = ShimLogin;
  }
  *list = &shim;
  return CKR_OK;
}
