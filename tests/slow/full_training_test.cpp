// Full preset trainings on MNIST (label `slow`): the accuracy each preset promises.
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

#include "backend.h"
#include "testing/mnist_fixture.h"
#include "trainer.h"

namespace digits {
namespace {

double train_preset(const Mnist& mnist, const std::string& name) {
  auto be = make_cpu_backend(0);
  TrainOptions o;
  o.preset = name;
  o.spec = NetSpec::parse(find_preset(name).spec);
  o.cfg = find_preset(name).train;
  o.log = &std::cout;
  return train(*be, mnist, o).test_accuracy;
}

TEST(FullTraining, SeedPresetReaches99Percent) {
  DIGITS_REQUIRE_MNIST(mnist);
  EXPECT_GE(train_preset(*mnist, "seed"), 0.990);
}

}  // namespace
}  // namespace digits
