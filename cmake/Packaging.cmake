# Install layout and the Debian package (README "Packaging and running as a service").
#   cmake -B build-package -DCMAKE_BUILD_TYPE=Release -DCG_BUILD_TESTS=OFF \
#         -DCMAKE_INSTALL_PREFIX=/usr && cmake --build build-package && \
#   (cd build-package && cpack)        -> build-package/consent-gateway_VERSION_ARCH.deb
# scripts/test-package does that, installs the package and checks it.
include(GNUInstallDirs)

set(cg_share ${CMAKE_INSTALL_DATADIR}/consent-gateway)
set(cg_doc ${CMAKE_INSTALL_DATADIR}/doc/consent-gateway)
install(TARGETS consent-gateway RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The example configuration: /etc/consent-gateway/ with the /usr prefix (a conffile in the .deb).
install(FILES packaging/consent-gateway.json
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/consent-gateway)
# The catalogues are compiled in; these copies are for reading and for site rules to start from.
install(FILES configs/cookie-catalogue.json configs/tracker-catalogue.json configs/demo.json
        DESTINATION ${cg_share})
install(FILES packaging/consent-gateway.service DESTINATION lib/systemd/system)
# Prometheus rules and a Grafana dashboard (README "What to monitor").
install(FILES packaging/monitoring/consent-gateway.rules.yml
              packaging/monitoring/consent-gateway.grafana.json
        DESTINATION ${cg_share}/monitoring)
install(FILES README.md DESTINATION ${cg_doc})
install(DIRECTORY docs/ DESTINATION ${cg_doc})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME consent-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "consent-gateway maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "reverse proxy that enforces cookie consent and counts visits without cookies")
set(CPACK_PACKAGE_DESCRIPTION
    "consent-gateway sits in front of websites: it injects a consent banner, blocks every "
    "non-essential cookie and tracker until the visitor consents, keeps proof of each consent "
    "in Redis, and counts page views itself, keeping only anonymised aggregates.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
# Shared libraries: found by dpkg-shlibdeps. Data the binary reads at run time: declared here.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "uap-core, tzdata, openssl")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "redis-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/conffiles;${PROJECT_SOURCE_DIR}/packaging/postinst;${PROJECT_SOURCE_DIR}/packaging/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
include(CPack)
