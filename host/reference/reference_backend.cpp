// The digits::reference functions, expanded from the op table (host/ops.h): each op forwards to its
// plain-loop template in reference_impl.h (float here; the gradient checks instantiate double), and the
// reference backend's adapters forward to those functions. Adding an op adds nothing to this file.
#include "host_backend.h"
#include "reference/reference_impl.h"
#include "reference/reference_ops.h"

namespace digits {

namespace reference {
#define DIGITS_OP(name, params, args, check) \
  void name params { typed::name args; }
#include "ops.h"
#undef DIGITS_OP
}  // namespace reference

namespace {

class ReferenceBackend final : public HostBackend {
 public:
  std::string name() const override { return "reference (plain loops)"; }

 protected:
#define DIGITS_OP(name, params, args, check) \
  void do_##name params override { reference::name args; }
#include "ops.h"
#undef DIGITS_OP
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace digits
