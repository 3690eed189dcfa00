// digits export: a model file in another format. --onnx: ONNX (opset 17) for ONNX Runtime and other tools
// (host/onnx_export.h says what the graph holds).
#include <iostream>
#include <memory>
#include <string>

#include "common.h"
#include "eval_report.h"
#include "onnx_export.h"
#include "predictor.h"

namespace digits::cli {

namespace {

struct ExportArgs {
  std::string model;
  std::string onnx;
};

void run_export(const ExportArgs& a) {
  const std::string path = a.model.empty() ? default_model_path() : a.model;
  check_output_writable(a.onnx, "--onnx");  // before the model is read: a wrong path fails at once
  const OnnxExport e = export_onnx(path, a.onnx);
  std::cout << "wrote " << a.onnx << " (" << e.bytes << " bytes, ONNX opset " << kOnnxOpset << ", " << e.ops.size()
            << " nodes:";
  for (const std::string& op : e.ops) std::cout << " " << op;
  std::cout << ")\ninput '" << kOnnxInput << "': float32 [N, 1, 28, 28] = pixel (0..255) * the model's input scale"
            << " (metadata input_scale); output '" << kOnnxOutput << "': float32 [N, 10], softmax\n";
}

}  // namespace

void register_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "write a model in another format: --onnx FILE.onnx");
  cmd->add_option("--model", a->model, "model file (default: the bundled model)");
  cmd->add_option("--onnx", a->onnx, "write the model as ONNX (opset 17, dynamic batch) to FILE")
      ->type_name("FILE.onnx")
      ->required();
  cmd->callback([a] { run_export(*a); });
}

}  // namespace digits::cli
