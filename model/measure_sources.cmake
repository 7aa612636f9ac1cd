# Launch measurement (facts §5; `snplab measure`): PAGE_INFO and the launch digest, the
# OVMF/SVSM image parser, the VMSA builder and the offline calculator for every guest mode.
# TBB hashes the pages of a NORMAL run on all cores (data-parallel, cannot change a result).
target_sources(snplab_model PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/src/guest_measure.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/measure.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/ovmf.cc
  ${CMAKE_CURRENT_LIST_DIR}/src/vmsa.cc)
target_link_libraries(snplab_model PRIVATE TBB::tbb)
