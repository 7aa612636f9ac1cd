# The PSP firmware model.
target_sources(snplab_model PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/src/aead.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/der.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/ecdsa.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/sim_chip.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/firmware.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/fw_states.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/guest_msg.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/memory.cc)

# Kernel-style primitives and the simulated KVM host.
target_sources(snplab_model PRIVATE
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kern/sync.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/host.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/sev.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/user.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/vcpu.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/guest_req.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/ghcb.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/src/kvm/profile.cc)
