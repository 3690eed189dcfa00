// digits info: version, build options, CPU threads, CUDA runtime/driver, devices, cuDNN and cuBLAS versions.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "common.h"
#include "cpu/cpu_ops.h"

namespace digits::cli {

void register_info(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("info", "build options, devices and library versions");
  cmd->add_flag("--json", *json, "print as JSON");
  cmd->callback([json] {
    std::vector<std::pair<std::string, std::string>> rows = {
        {"version", DIGITS_VERSION},
        {"cpu backend", make_cpu_backend(0)->name()},
        {"hardware threads", std::to_string(std::thread::hardware_concurrency())},
    };
    for (auto& kv : backend_info()) rows.push_back(kv);
    if (*json) {
      nlohmann::json j = nlohmann::json::object();
      for (auto& [k, v] : rows) j[k] = v;
      std::cout << j.dump(2) << "\n";
      return;
    }
    for (auto& [k, v] : rows) std::cout << k << ": " << v << "\n";
  });
}

}  // namespace digits::cli
