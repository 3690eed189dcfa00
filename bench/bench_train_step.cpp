// BM_TrainStep_Cpu/<preset>: one whole training step (TrainStep::run, the object `digits train` runs: gather
// or augment, forward, loss, backward, optimizer update) of every preset at its batch size on the CPU
// backend, on random images (a step's time does not depend on the pixels). Items are images.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "backend.h"
#include "model.h"
#include "train_config.h"
#include "train_step.h"

namespace digits {
namespace {

constexpr int kBatchesOfData = 4;  // steps cycle over this many different batches

int cpu_threads() {  // DIGITS_CPU_THREADS, else all cores
  const char* env = std::getenv("DIGITS_CPU_THREADS");
  return env ? std::max(0, std::atoi(env)) : 0;
}

void BM_TrainStep_Cpu(benchmark::State& state, const Preset* preset) {
  auto be = make_cpu_backend(cpu_threads());
  const TrainConfig& cfg = preset->train;
  const int B = cfg.batch;
  Model model(*be, NetSpec::parse(preset->spec), B);
  model.init(cfg.seed);
  TrainStep step(*be, model, cfg, B);
  const ResidentData data(*be, random_dataset(kBatchesOfData * B, 7));
  std::vector<int32_t> order(size_t(data.count));
  std::iota(order.begin(), order.end(), 0);
  Buffer<int32_t> index(*be, order.size());
  index.upload(order);

  int64_t s = 0;
  auto run = [&] {
    step.run(data, index.data() + size_t(s % kBatchesOfData) * size_t(B), B, s, cfg.lr);
    ++s;
  };
  run();  // warm-up: first-touch of the buffers, caches
  be->synchronize();
  for (auto _ : state) run();
  be->synchronize();
  state.SetLabel(preset->name);
  state.SetItemsProcessed(int64_t(B) * state.iterations());
}

// One case per preset, so a new preset is measured without touching this file.
const int kRegistered = [] {
  for (const Preset& p : presets())
    benchmark::RegisterBenchmark(("BM_TrainStep_Cpu/" + p.name).c_str(), BM_TrainStep_Cpu, &p)
        ->MeasureProcessCPUTime()
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  return 0;
}();

}  // namespace
}  // namespace digits
