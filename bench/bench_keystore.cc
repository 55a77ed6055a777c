// The keystore with a fleet's worth of keys: the load time of a file of
// 10^6 lines and the resident memory those keys add (both measured in a
// fresh child process, so that no earlier benchmark's heap hides or adds
// memory), then lookup and derivation at 10^6 keys against 10^3 keys,
// alternately, with KeyIDs drawn at random over the whole keystore.

#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>

#include "bench_util.h"
#include "kdf_fetch.h"
#include "keystore.h"
#include "onem2m/kdf.h"
#include "onem2m/keystore.h"

namespace onem2m::bench {

namespace {

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

struct LoadResult {
  double seconds = 0;
  double rss_mib = 0;   // VmRSS after the load minus before
  double peak_mib = 0;  // VmHWM after the load minus VmRSS before
  size_t keys = 0;
};

// MeasureLoad runs "onem2m-bench --load-keystore |path|" and reads its line.
bool MeasureLoad(const std::string& path, LoadResult* r, std::string* error) {
  int out = -1;
  pid_t pid = Spawn({SelfPath(), "--load-keystore", path}, &out);
  if (pid < 0) {
    *error = "cannot start the load child";
    return false;
  }
  std::string line = ReadAllText(out);
  close(out);
  int status = WaitChild(pid, 120'000);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *error = "the load child failed: " + line;
    return false;
  }
  r->seconds = std::atof(FieldOf(line, "seconds").c_str());
  double before = std::atof(FieldOf(line, "rss_before_kib").c_str());
  r->rss_mib =
      (std::atof(FieldOf(line, "rss_after_kib").c_str()) - before) / 1024;
  r->peak_mib = (std::atof(FieldOf(line, "hwm_kib").c_str()) - before) / 1024;
  r->keys = std::strtoul(FieldOf(line, "keys").c_str(), nullptr, 10);
  return true;
}

// KeystoreSide makes a side that looks up (and derives, if |kdf|) KeyIDs
// from |ids| in |ks| in turn.
Side KeystoreSide(std::string name, const Keystore* ks, EVP_KDF* kdf,
                  const std::vector<std::string>* ids) {
  auto next = std::make_shared<size_t>(0);
  return Side{std::move(name), [=](int n, std::string* error) {
                SecretBuffer psk;
                for (int i = 0; i < n; i++) {
                  const std::string& id = (*ids)[(*next)++ % ids->size()];
                  bool ok = kdf != nullptr ? ks->DerivePsk(kdf, id, 2, &psk) ==
                                                 DeriveStatus::kOk
                                           : ks->Contains(id);
                  if (!ok) {
                    *error = "KeyID " + id + " not found or not derived";
                    return false;
                  }
                }
                return true;
              }};
}

struct KeystoreDeleter {
  void operator()(ONEM2M_KEYSTORE* ks) const { ONEM2M_KEYSTORE_free(ks); }
};
using KeystorePtr = std::unique_ptr<ONEM2M_KEYSTORE, KeystoreDeleter>;

std::string PowerOfTen(size_t n) {
  size_t e = 0;
  size_t v = 1;
  while (v < n) {
    v *= 10;
    e++;
  }
  return v == n ? "10^" + std::to_string(e) : std::to_string(n);
}

}  // namespace

int RunLoadKeystore(const char* path) {
  long before = ReadStatusKib("VmRSS:");
  int64_t start = WallNs();
  ONEM2M_KEYSTORE* ks = ONEM2M_KEYSTORE_load_file(path);
  double seconds = static_cast<double>(WallNs() - start) / 1e9;
  if (ks == nullptr) {
    std::printf("error=load_failed\n");
    return 1;
  }
  std::printf(
      "seconds=%.3f rss_before_kib=%ld rss_after_kib=%ld hwm_kib=%ld "
      "keys=%zu\n",
      seconds, before, ReadStatusKib("VmRSS:"), ReadStatusKib("VmHWM:"),
      ONEM2M_KEYSTORE_count(ks));
  ONEM2M_KEYSTORE_free(ks);
  return 0;
}

void BM_Keystore(benchmark::State& state) {
  const Settings& settings = GetSettings();
  std::string large_path = settings.work_dir + "/keys-large";
  std::string small_path = settings.work_dir + "/keys-small";
  std::string large = PowerOfTen(settings.large_keys);
  std::string small = PowerOfTen(settings.small_keys);
  std::string error;
  auto fail = [&](const std::string& what) {
    state.SkipWithError(what.c_str());
    AddRow({"keystore", "setup", "FAILED: " + what, "", "", "", "NO"});
  };
  if (!WriteKeystoreFile(large_path, settings.large_keys, &error) ||
      !WriteKeystoreFile(small_path, settings.small_keys, &error)) {
    return fail(error);
  }

  // Load time and memory: the median of three fresh processes.
  std::vector<LoadResult> loads;
  for (int i = 0; i < (settings.smoke ? 1 : 3); i++) {
    LoadResult r;
    if (!MeasureLoad(large_path, &r, &error)) {
      return fail(error);
    }
    if (r.keys != settings.large_keys) {
      return fail("the load child counted " + std::to_string(r.keys) + " keys");
    }
    loads.push_back(r);
  }
  std::sort(loads.begin(), loads.end(),
            [](const LoadResult& a, const LoadResult& b) {
              return a.seconds < b.seconds;
            });
  const LoadResult& load = loads[loads.size() / 2];

  // Lookups: both keystores in this process, KeyIDs in random order.
  KeystorePtr big(ONEM2M_KEYSTORE_load_file(large_path.c_str()));
  KeystorePtr little(ONEM2M_KEYSTORE_load_file(small_path.c_str()));
  Onem2mKdf kdf = FetchOnem2mKdf(nullptr, nullptr, ONEM2M_KDF_PSK);
  if (big == nullptr || little == nullptr || !kdf) {
    return fail("cannot load the keystores or fetch ONEM2M-PSK");
  }
  size_t draws = settings.smoke ? 4096 : (1u << 18);
  std::mt19937_64 rng(8);
  std::vector<std::string> big_ids;
  std::vector<std::string> little_ids;
  for (size_t i = 0; i < draws; i++) {
    big_ids.push_back(KeyIdFor(rng() % settings.large_keys));
    little_ids.push_back(KeyIdFor(rng() % settings.small_keys));
  }
  PairedRunner runner;
  runner.AddPair(
      KeystoreSide(large, big->impl.get(), kdf.get(), &big_ids),
      KeystoreSide(small, little->impl.get(), kdf.get(), &little_ids));
  runner.AddPair(KeystoreSide(large, big->impl.get(), nullptr, &big_ids),
                 KeystoreSide(small, little->impl.get(), nullptr, &little_ids));
  if (!runner.Calibrate(settings.round_ns / 2)) {
    return fail(runner.error());
  }
  for (auto _ : state) {
    if (!runner.RunRound()) {
      return fail(runner.error());
    }
  }
  PairedRunner::Result derive = runner.Get(0);
  PairedRunner::Result lookup = runner.Get(1);

  state.counters["load_s"] = load.seconds;
  state.counters["rss_mib"] = load.rss_mib;
  state.counters["peak_mib"] = load.peak_mib;
  state.counters["derive_ratio"] = derive.ratio;
  state.counters["lookup_ratio"] = lookup.ratio;
  bool full = settings.large_keys == 1'000'000;
  AddRow({"keystore", "load a " + large + "-line file (wall)",
          FormatDouble(load.seconds, 2) + " s", "", "", "< 2 s",
          full ? Verdict(load.seconds < 2) : "(smoke)"});
  AddRow({"keystore", "resident memory added by " + large + " keys (VmRSS)",
          FormatDouble(load.rss_mib, 1) + " MiB", "", "", "< 200 MiB",
          full ? Verdict(load.rss_mib < 200) : "(smoke)"});
  AddRow({"keystore", "  peak during the load (VmHWM - VmRSS before)",
          FormatDouble(load.peak_mib, 1) + " MiB", "", "", "", ""});
  AddRow({"keystore",
          "lookup + derive v2: " + large + " keys vs " + small + " keys",
          FormatNanos(derive.a_ns), FormatNanos(derive.b_ns),
          FormatRatioRange(derive.ratio, derive.ratio_low, derive.ratio_high),
          "≤ 1.5", Verdict(derive.ratio <= 1.5)});
  AddRow({"keystore", "  lookup alone: " + large + " keys vs " + small,
          FormatNanos(lookup.a_ns), FormatNanos(lookup.b_ns),
          FormatRatio(lookup.ratio), "", ""});
  unlink(large_path.c_str());
  unlink(small_path.c_str());
}

}  // namespace onem2m::bench
