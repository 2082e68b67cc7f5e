// SPDX-License-Identifier: MIT
// The randomized workload (sim_workload.h) under a schedule with every liberty turned on: late,
// spurious, stale and cut. 10^6 operations per seed by default; EMIO_SIM_OPERATIONS=N for another
// count, EMIO_SIM_SEED=N for another seed (scripts/sim.sh runs many).
#include <cstdio>
#include <cstdlib>

#include "emio/driver/driver.h"
#include "emio/driver/sim_backend.h"
#include "sim/sim_workload.h"
#include "support/check.h"
#include "support/driver_fixture.h"

namespace {

constexpr uint64_t default_operations = 1000000;

uint64_t operations_to_run() {
  const char* text = std::getenv("EMIO_SIM_OPERATIONS");
  return text == nullptr || *text == '\0' ? default_operations : std::strtoull(text, nullptr, 0);
}

emio::SimSchedule every_liberty() {
  emio::SimSchedule schedule;
  schedule.max_hold_waits = 3;
  schedule.spurious_per_mille = 100;
  schedule.stale_per_mille = 50;
  schedule.cut_per_mille = 200;
  return schedule;
}

void print_figures(const emio_sim::WorkloadFigures& figures) {
  const emio::SimStats sim = emio::sim_stats();
  std::printf(
      "\nsim-workload: seed %llu, %llu operations, %llu bytes in and %llu out checked, %llu (de)registrations, "
      "%llu reopenings, %llu settles; events %llu delivered, %llu split, %llu late, %llu spurious, %llu stale "
      "(all dropped), %llu transfers cut\n",
      static_cast<unsigned long long>(emio::sim_seed()), static_cast<unsigned long long>(figures.operations),
      static_cast<unsigned long long>(figures.bytes_in), static_cast<unsigned long long>(figures.bytes_out),
      static_cast<unsigned long long>(figures.reregistrations), static_cast<unsigned long long>(figures.reopenings),
      static_cast<unsigned long long>(figures.settles), static_cast<unsigned long long>(sim.delivered),
      static_cast<unsigned long long>(sim.split), static_cast<unsigned long long>(sim.held),
      static_cast<unsigned long long>(sim.spurious), static_cast<unsigned long long>(sim.stale_delivered),
      static_cast<unsigned long long>(sim.cuts));
}

}  // namespace

TEST_GROUP(SimWorkload){void teardown() override{emio::set_sim_schedule(emio::SimSchedule{});
}
}
;

TEST(SimWorkload, EveryByteAndEventReachesItsOwnSourceUnderTheSeededSchedule) {
  emio::set_sim_schedule(every_liberty());
  emio::reset_sim_stats();
  emio::Driver driver;
  // Fewer event slots than sources: ready events wait for a later turn too.
  CHECK_OK(driver.init(emio_test::driver_config(64, 32)));
  emio_sim::Workload workload(driver, emio::sim_seed());
  const bool passed = workload.run(operations_to_run());
  print_figures(workload.figures());
  if (!passed) FAIL(workload.failure());
  const emio::SimStats sim = emio::sim_stats();
  // The schedule really took every liberty, or the run proved less than it says.
  CHECK(sim.held > 0 && sim.spurious > 0 && sim.stale_delivered > 0 && sim.cuts > 0 && sim.split > 0);
}
