# Launch measurement (`snplab measure`, model/guest_measure.h): every recorded
# sev-snp-measure run in ../shared/vectors/measure (label "vectors"), and the model's unit
# tests (label "unit"). SNPLAB_SHARED_DIR (compile definition, overridable by the
# environment variable of the same name) locates the shared/ folder beside the project.
set(SNPLAB_MEASURE_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared")

add_executable(snplab_measure_vector_tests vectors/measure_vectors_test.cc)
target_link_libraries(snplab_measure_vector_tests PRIVATE snplab::model snplab::scenarios GTest::gtest_main
                      nlohmann_json::nlohmann_json snplab_warnings)
target_compile_definitions(snplab_measure_vector_tests PRIVATE SNPLAB_SHARED_DIR="${SNPLAB_MEASURE_SHARED_DIR}")
gtest_discover_tests(snplab_measure_vector_tests PROPERTIES LABELS "vectors" DISCOVERY_TIMEOUT 120)

add_executable(snplab_measure_unit_tests model/measure/measure_test.cc)
target_link_libraries(snplab_measure_unit_tests PRIVATE snplab::model snplab::scenarios GTest::gtest_main
                      nlohmann_json::nlohmann_json snplab_warnings)
target_compile_definitions(snplab_measure_unit_tests PRIVATE SNPLAB_SHARED_DIR="${SNPLAB_MEASURE_SHARED_DIR}")
gtest_discover_tests(snplab_measure_unit_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 120)
