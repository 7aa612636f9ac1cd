# Firmware model tests.
add_executable(snplab_firmware_unit_tests model/crypto/ecdsa_test.cc model/guest/sev_guest_test.cc model/guest/vcpu_test.cc model/psp/firmware_test.cc
  model/psp/sim_chain_test.cc model/psp/guest_msg_test.cc)
target_link_libraries(snplab_firmware_unit_tests PRIVATE snplab::model GTest::gtest GTest::gtest_main snplab_warnings)
gtest_discover_tests(snplab_firmware_unit_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)
target_compile_definitions(snplab_firmware_unit_tests PRIVATE SNPLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

add_executable(snplab_sim_report_tests scenarios/sim_report_cli_test.cc scenarios/bad_input_test.cc
  scenarios/report_cli_test.cc)
target_include_directories(snplab_sim_report_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_link_libraries(snplab_sim_report_tests PRIVATE snplab::scenarios nlohmann_json::nlohmann_json GTest::gtest
  GTest::gtest_main snplab_warnings)
gtest_discover_tests(snplab_sim_report_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)

add_executable(snplab_kvm_unit_tests model/host/snp_launch_test.cc model/host/guest_run_test.cc
  model/host/guest_req_test.cc model/host/ioctl_sweeps_test.cc model/host/snapshot_test.cc model/host/kvm_run_test.cc
  model/host/kernel_map_test.cc model/host/ioctl_entry_test.cc
  model/host/launch_finish_lock_test.cc)
target_include_directories(snplab_kvm_unit_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_compile_definitions(snplab_kvm_unit_tests PRIVATE SNPLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(snplab_kvm_unit_tests PRIVATE snplab::scenarios snplab::api rapidcheck GTest::gtest GTest::gtest_main
                      snplab_warnings)
gtest_discover_tests(snplab_kvm_unit_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)

# End to end: firmware image + kernel hashes -> launch -> guest attests; vs `snplab measure`.
add_executable(snplab_e2e_tests scenarios/e2e_test.cc)
target_link_libraries(snplab_e2e_tests PRIVATE snplab::scenarios snplab::api GTest::gtest GTest::gtest_main snplab_warnings)
target_include_directories(snplab_e2e_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support)
target_compile_definitions(snplab_e2e_tests PRIVATE SNPLAB_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
gtest_discover_tests(snplab_e2e_tests PROPERTIES LABELS "scenario" DISCOVERY_TIMEOUT 60)

# The simulation engine.
add_executable(snplab_engine_tests model/engine/engine_test.cc)
target_link_libraries(snplab_engine_tests PRIVATE snplab::model GTest::gtest GTest::gtest_main snplab_warnings)
gtest_discover_tests(snplab_engine_tests PROPERTIES LABELS "unit" DISCOVERY_TIMEOUT 60)
add_executable(snplab_race_tests scenarios/races_test.cc scenarios/trace_out_test.cc scenarios/scenario_api_test.cc)
target_link_libraries(snplab_race_tests PRIVATE snplab::scenarios nlohmann_json::nlohmann_json GTest::gtest
                      GTest::gtest_main snplab_warnings)
target_compile_definitions(snplab_race_tests PRIVATE SNPLAB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(snplab_race_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/support)
gtest_discover_tests(snplab_race_tests PROPERTIES LABELS "scenario" DISCOVERY_TIMEOUT 60)
