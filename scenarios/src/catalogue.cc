// The built-in catalogue: every scenario of scenarios/src/catalogue/, in `scenario list` order.
#include "snp/scenarios/catalogue.h"

#include "catalogue/builtin.h"

namespace snplab::scenarios {

Catalogue Catalogue::builtin() {
  Catalogue c;
  c.add(builtin::certs_toctou());
  c.add(builtin::launch_update_revert());
  c.add(builtin::nonsnp_guest_req());
  c.add(builtin::vmsa_features());
  c.add(builtin::memslot_change());
  c.add(builtin::certs_sync());
  c.add(builtin::gmem_punch());
  c.add(builtin::double_assignment());
  c.add(builtin::double_assignment_concurrent());
  return c;
}

}  // namespace snplab::scenarios
