// onem2m-psk serve on loopback under load from another process: this
// benchmark starts the server (a keystore of 10^3 keys, default options,
// port chosen by the kernel) and then onem2m-loadgen with N clients for T
// seconds, reads the load generator's figures, and stops the server by its
// PID. Both run on the same machine, so the figures are for the record,
// not a target: the load generator's TLS work competes with the server's.

#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "bench_util.h"

namespace onem2m::bench {

namespace {

struct ServeRun {
  std::string protocol_flag;  // "" (both, TLS 1.3 wins) or "--tls1_2"
  std::string line;           // the load generator's result line
};

bool RunServe(const std::string& keystore, ServeRun* run, std::string* error) {
  const Settings& settings = GetSettings();
  std::vector<std::string> serve = {settings.cli_path, "serve",
                                    "--keystore",      keystore,
                                    "--accept",        "127.0.0.1:0"};
  if (!run->protocol_flag.empty()) {
    serve.push_back(run->protocol_flag);
  }
  int serve_out = -1;
  pid_t server = Spawn(serve, &serve_out);
  if (server < 0) {
    *error = "cannot start " + settings.cli_path;
    return false;
  }

  // "onem2m-psk serve: listening on 127.0.0.1:PORT (...)"
  std::string line;
  bool listening = ReadLine(serve_out, 10'000, &line);
  size_t colon = line.find("127.0.0.1:");
  std::string port =
      colon == std::string::npos
          ? ""
          : line.substr(colon + 10, line.find(' ', colon) - colon - 10);
  bool ok = listening && !port.empty();
  if (!ok) {
    *error = "the server did not say where it listens: " + line;
  } else {
    std::vector<std::string> load = {settings.loadgen_path,
                                     "--connect",
                                     "127.0.0.1:" + port,
                                     "--keystore",
                                     keystore,
                                     "--key-ids",
                                     std::to_string(settings.small_keys),
                                     "--clients",
                                     std::to_string(settings.serve_clients),
                                     "--seconds",
                                     std::to_string(settings.serve_seconds)};
    if (!run->protocol_flag.empty()) {
      load.push_back(run->protocol_flag);
    }
    int load_out = -1;
    pid_t loadgen = Spawn(load, &load_out);
    if (loadgen < 0) {
      *error = "cannot start " + settings.loadgen_path;
      ok = false;
    } else {
      run->line = ReadAllText(load_out);
      close(load_out);
      int status = WaitChild(loadgen, (settings.serve_seconds + 60) * 1000);
      ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
           !FieldOf(run->line, "rate").empty();
      if (!ok) {
        *error = "the load generator failed: " + run->line;
      }
    }
  }

  // Stop the server we started, by its PID.
  kill(server, SIGTERM);
  WaitChild(server, 20'000);
  close(serve_out);
  return ok;
}

}  // namespace

void BM_Serve(benchmark::State& state) {
  const Settings& settings = GetSettings();
  std::string keystore = settings.work_dir + "/keys-serve";
  std::string error;
  std::vector<ServeRun> runs = {{"", ""}, {"--tls1_2", ""}};
  if (!WriteKeystoreFile(keystore, settings.small_keys, &error)) {
    state.SkipWithError(error.c_str());
    AddRow({"serve", "setup", "FAILED: " + error, "", "", "", "NO"});
    return;
  }
  for (auto _ : state) {
    for (ServeRun& run : runs) {
      if (!RunServe(keystore, &run, &error)) {
        state.SkipWithError(error.c_str());
        AddRow({"serve", "run", "FAILED: " + error, "", "", "", "NO"});
        unlink(keystore.c_str());
        return;
      }
    }
  }
  unlink(keystore.c_str());

  for (const ServeRun& run : runs) {
    std::string l = run.line;
    while (!l.empty() && (l.back() == '\n' || l.back() == ' ')) {
      l.pop_back();
    }
    std::string what = FieldOf(l, "protocol") + " " + FieldOf(l, "suite") +
                       " v" + FieldOf(l, "version");
    std::string setup = std::to_string(settings.serve_clients) + " clients, " +
                        std::to_string(settings.serve_seconds) + " s";
    std::string key = run.protocol_flag.empty() ? "default" : "tls12";
    double rate = std::atof(FieldOf(l, "rate").c_str());
    state.counters[key + "_per_s"] = rate;
    AddRow({"serve", "serve, " + what + ", " + setup + ": handshakes/s",
            FormatDouble(rate, 0), "", "", "(record)", ""});
    AddRow(
        {"serve",
         "  latency connect→greeting p50 / p90 / p99; failed " +
             FieldOf(l, "failed"),
         FormatDouble(std::atof(FieldOf(l, "p50_us").c_str()) / 1000, 2) +
             " / " +
             FormatDouble(std::atof(FieldOf(l, "p90_us").c_str()) / 1000, 2) +
             " / " +
             FormatDouble(std::atof(FieldOf(l, "p99_us").c_str()) / 1000, 2) +
             " ms",
         "", "", "", ""});
  }
}

}  // namespace onem2m::bench
