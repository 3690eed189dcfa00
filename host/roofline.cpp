// The roofline arithmetic of roofline.h.
#include "roofline.h"

#include <algorithm>
#include <cmath>

#include "error.h"

namespace digits {

const char* to_string(Bound b) { return b == Bound::Compute ? "compute" : "memory"; }

static void check_peak(const MachinePeak& p) {
  DIGITS_CHECK(p.gflops > 0 && p.gbs > 0 && std::isfinite(p.gflops) && std::isfinite(p.gbs),
               "roofline: peaks must be positive, got " << p.gflops << " GFLOP/s and " << p.gbs << " GB/s");
}

double ridge_intensity(const MachinePeak& peak) {
  check_peak(peak);
  return peak.gflops / peak.gbs;
}

double attainable_gflops(double intensity, const MachinePeak& peak) {
  check_peak(peak);
  return std::min(peak.gflops, intensity * peak.gbs);
}

RooflinePoint roofline(double flops, double bytes, double seconds, const MachinePeak& peak) {
  check_peak(peak);
  DIGITS_CHECK(seconds > 0 && flops >= 0 && bytes >= 0 && flops + bytes > 0 && std::isfinite(seconds),
               "roofline: " << flops << " FLOP and " << bytes << " bytes in " << seconds << " s");
  RooflinePoint r;
  r.gflops = flops / seconds * 1e-9;
  r.gbs = bytes / seconds * 1e-9;
  r.intensity = bytes > 0 ? flops / bytes : INFINITY;
  r.bound = r.intensity >= ridge_intensity(peak) ? Bound::Compute : Bound::Memory;
  r.pct_of_peak = 100.0 * (r.bound == Bound::Compute ? r.gflops / peak.gflops : r.gbs / peak.gbs);
  return r;
}

}  // namespace digits
