# The Debian package (issue 7): `cpack -G DEB` in the build directory makes
# onem2m-psk_<version>_<arch>.deb from the install rules of
# cmake/install.cmake, with prefix /usr: onem2m.so lands in
# /usr/lib/<multiarch>/ossl-modules, where OpenSSL looks by default, and
# `apt-get install ./onem2m-psk_*.deb` pulls in libssl3.

set(CPACK_PACKAGE_NAME "onem2m-psk")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "onem2m-psk project")
# TODO(#7): a real maintainer address before the package is published.
set(CPACK_PACKAGE_CONTACT "onem2m-psk maintainers <onem2m-psk@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "oneM2M symmetric-key authentication (TS-0003) for OpenSSL 3")
set(CPACK_PACKAGE_DESCRIPTION
    "Devices on a oneM2M platform authenticate to their server with a Root
Key provisioned out of band, carried inside standard TLS-PSK. This package
holds the OpenSSL 3 provider onem2m.so (KDFs ONEM2M-PSK and ONEM2M-MASTER,
loadable from openssl.cnf), the library libonem2m_psk with its headers,
CMake package and pkg-config file, and the onem2m-psk command line tool.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_GENERATOR "DEB")
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "libs")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# dpkg-shlibdeps (dpkg-dev) finds the dependencies: libssl3 (>= 3.0.0),
# libc6 and the C++ runtime.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The shared library's shlibs file and the ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
