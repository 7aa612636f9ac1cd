# Attestation: the real-report vectors of ../shared/vectors/reports (every case of
# sets.json, through the library and through `snplab report`) and the unit tests of the report
# codec, X.509/verification paths and the certificate table.
set(SNPLAB_SHARED_DIR_DEFAULT "${PROJECT_SOURCE_DIR}/../shared")

add_executable(snplab_report_vector_tests vectors/report_vectors_test.cc)
target_compile_definitions(snplab_report_vector_tests PRIVATE SNPLAB_SHARED_DIR="${SNPLAB_SHARED_DIR_DEFAULT}")
target_link_libraries(snplab_report_vector_tests PRIVATE snplab::model snplab::scenarios GTest::gtest_main
                      nlohmann_json::nlohmann_json snplab_warnings)
gtest_discover_tests(snplab_report_vector_tests PROPERTIES LABELS "vectors" DISCOVERY_TIMEOUT 120)

# The unit tests build synthetic ECDSA chains and sign reports with OpenSSL directly, so they
# reach every verification path the real vectors do not (Turin hwID, masked CHIP_ID, VLEK,
# expiry, product and key mismatches).
add_executable(snplab_attestation_unit_tests model/attest/attestation_test.cc model/attest/cert_table_test.cc)
target_compile_definitions(snplab_attestation_unit_tests PRIVATE SNPLAB_SHARED_DIR="${SNPLAB_SHARED_DIR_DEFAULT}")
target_link_libraries(snplab_attestation_unit_tests PRIVATE snplab::model snplab::scenarios GTest::gtest_main
                      nlohmann_json::nlohmann_json OpenSSL::Crypto snplab_warnings)
gtest_discover_tests(snplab_attestation_unit_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 120)
