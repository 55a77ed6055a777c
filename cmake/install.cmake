# Installing the project the way OpenSSL users expect (issue 7):
#
#   <modules dir>/onem2m.so                     the provider module
#   <prefix>/<libdir>/libonem2m_psk.so*         the library
#   <prefix>/include/onem2m/*.h                 its public headers
#   <prefix>/bin/onem2m-psk                     the CLI
#   <prefix>/<libdir>/cmake/onem2m_psk/         find_package(onem2m_psk)
#   <prefix>/<libdir>/pkgconfig/onem2m-psk.pc   pkg-config onem2m-psk
#   <prefix>/share/doc/onem2m-psk/              openssl.cnf.sample, guides
#   <prefix>/share/man/man1, man7               onem2m-psk(1), onem2m(7)
#
# The modules dir is OpenSSL's own (pkg-config --variable=modulesdir
# libcrypto) for CMake's default prefix /usr/local, so that a plain
# `cmake --install` makes the provider loadable by name; for any other
# prefix it is <prefix>/lib/<multiarch>/ossl-modules (the same path as
# OpenSSL's below its own prefix), so that an install into a scratch prefix
# never writes outside it. -DONEM2M_MODULES_INSTALL_DIR=DIR overrides both
# (a relative DIR is below the prefix). The choice is made at install time,
# so `cmake --install BUILD --prefix P` and CPack (prefix /usr) get it right.

# Debian's multiarch library directory for every prefix, not only /usr:
# /usr/local/lib/<multiarch> is on Debian's loader and pkg-config paths
# too, and the package then matches a plain install.
if(NOT DEFINED CMAKE_INSTALL_LIBDIR AND CMAKE_LIBRARY_ARCHITECTURE
   AND EXISTS /etc/debian_version)
  set(CMAKE_INSTALL_LIBDIR "lib/${CMAKE_LIBRARY_ARCHITECTURE}"
      CACHE PATH "Object code libraries (lib/<multiarch> on Debian)")
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ONEM2M_MODULES_INSTALL_DIR "" CACHE STRING
    "Where to install onem2m.so (default: OpenSSL's modules directory for \
prefix /usr/local, else <prefix>/lib/<multiarch>/ossl-modules)")
set(ONEM2M_DOC_INSTALL_DIR "${CMAKE_INSTALL_DATAROOTDIR}/doc/onem2m-psk")

# OpenSSL's modules directory, and the same path below OpenSSL's prefix.
find_package(PkgConfig QUIET)
set(ONEM2M_OPENSSL_MODULESDIR "")
set(ONEM2M_OPENSSL_PREFIX "")
if(PKG_CONFIG_FOUND)
  pkg_get_variable(ONEM2M_OPENSSL_MODULESDIR libcrypto modulesdir)
  pkg_get_variable(ONEM2M_OPENSSL_PREFIX libcrypto prefix)
endif()
set(ONEM2M_MODULES_RELATIVE_DIR "${CMAKE_INSTALL_LIBDIR}/ossl-modules")
if(IS_ABSOLUTE "${ONEM2M_OPENSSL_MODULESDIR}"
   AND IS_ABSOLUTE "${ONEM2M_OPENSSL_PREFIX}")
  file(RELATIVE_PATH relative "${ONEM2M_OPENSSL_PREFIX}"
       "${ONEM2M_OPENSSL_MODULESDIR}")
  if(NOT relative MATCHES "^\\.\\.")
    set(ONEM2M_MODULES_RELATIVE_DIR "${relative}")
  endif()
else()
  message(STATUS "libcrypto's pkg-config file names no modulesdir: "
                 "onem2m.so installs to <prefix>/"
                 "${ONEM2M_MODULES_RELATIVE_DIR}")
  set(ONEM2M_OPENSSL_MODULESDIR
      "/usr/local/${ONEM2M_MODULES_RELATIVE_DIR}")
endif()

# The library, its headers and the CLI.
target_include_directories(onem2m_psk
  INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
install(TARGETS onem2m_psk EXPORT onem2m_psk_targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/onem2m
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(TARGETS onem2m-psk RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# find_package(onem2m_psk): the imported target onem2m_psk::onem2m_psk.
set(cmake_dir "${CMAKE_INSTALL_LIBDIR}/cmake/onem2m_psk")
install(EXPORT onem2m_psk_targets
  NAMESPACE onem2m_psk::
  FILE onem2m_pskTargets.cmake
  DESTINATION ${cmake_dir})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/onem2m_pskConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/onem2m_pskConfig.cmake
  INSTALL_DESTINATION ${cmake_dir})
# 0.x releases promise nothing across minor versions.
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/onem2m_pskConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/onem2m_pskConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/onem2m_pskConfigVersion.cmake
  DESTINATION ${cmake_dir})

# The module and the pkg-config file depend on the prefix given at install
# time: a script decides there (cmake/install_module.cmake.in).
configure_file(${CMAKE_CURRENT_LIST_DIR}/install_module.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/install_module.cmake.gen @ONLY)
file(GENERATE
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/install_module.cmake
  INPUT ${CMAKE_CURRENT_BINARY_DIR}/install_module.cmake.gen)
install(SCRIPT ${CMAKE_CURRENT_BINARY_DIR}/install_module.cmake)

# Documentation: the sample configuration, the guides, the man pages.
install(FILES
  ${PROJECT_SOURCE_DIR}/openssl.cnf.sample
  ${PROJECT_SOURCE_DIR}/README.md
  DESTINATION ${ONEM2M_DOC_INSTALL_DIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
  DESTINATION ${ONEM2M_DOC_INSTALL_DIR}
  FILES_MATCHING PATTERN "*.md")
foreach(page onem2m-psk.1 onem2m.7)
  if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${page})
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section "${page}")
    install(FILES ${PROJECT_SOURCE_DIR}/docs/${page}
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endif()
endforeach()
