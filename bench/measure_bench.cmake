# Launch-digest throughput over 1 GiB of NORMAL pages against plain OpenSSL SHA-384, one core
# and TBB (targets in measure_bench.cc). Has its own main: it prints the ratios at the end.
add_executable(snplab_measure_bench ${CMAKE_CURRENT_LIST_DIR}/measure_bench.cc)
target_link_libraries(snplab_measure_bench PRIVATE snplab::model benchmark::benchmark TBB::tbb OpenSSL::Crypto
                      snplab_warnings)
