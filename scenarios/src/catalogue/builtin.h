// The built-in scenarios, one file each in this folder; Catalogue::builtin() (catalogue.cc)
// lists them. Each is written against the public scenario API only (scenario.h, vmm.h).
#pragma once

#include <memory>

#include "snp/scenarios/scenario.h"

namespace snplab::scenarios::builtin {

std::unique_ptr<Scenario> certs_toctou();
std::unique_ptr<Scenario> launch_update_revert();
std::unique_ptr<Scenario> nonsnp_guest_req();
std::unique_ptr<Scenario> vmsa_features();
std::unique_ptr<Scenario> memslot_change();
std::unique_ptr<Scenario> certs_sync();
std::unique_ptr<Scenario> gmem_punch();
std::unique_ptr<Scenario> double_assignment();
std::unique_ptr<Scenario> double_assignment_concurrent();

}  // namespace snplab::scenarios::builtin
