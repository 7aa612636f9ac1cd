# Attestation: report codec, X.509 / ECDSA (OpenSSL, linked privately by
# model/CMakeLists.txt), report verification, the extended-guest-request certificate table.
target_sources(snplab_model PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/attestation.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/cert_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/report_verify.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/x509.cc)
