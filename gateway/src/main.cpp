// consent-gateway: the process entry point. Everything else lives in the libraries so tests
// can link it (STYLE.md §1).
#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string_view>

#include "gateway/config.hpp"
#include "gateway/server.hpp"

namespace {

constexpr std::string_view usage =
    "usage: consent-gateway CONFIG.json            run the gateway\n"
    "       consent-gateway --check-config FILE    validate a configuration and exit\n"
    "       consent-gateway --version\n";

int check(const char* file) {
    try {
        cg::gateway::load_config(file);
        std::cout << file << ": ok\n";
        return 0;
    } catch (const cg::gateway::config_error& e) {
        std::cerr << e.what() << '\n';
        return 2;
    }
}

int run(const char* file) {
    std::shared_ptr<const cg::gateway::config> cfg;
    try {
        cfg = std::make_shared<const cg::gateway::config>(cg::gateway::load_config(file));
    } catch (const cg::gateway::config_error& e) {
        std::cerr << e.what() << "\nconsent-gateway: refusing to start with this configuration\n";
        return 2;
    }
    // A closed stdout or peer must surface as an error code, never kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    try {
        cg::gateway::server srv{cfg};
        srv.handle_signals();
        srv.start();
        srv.wait();
    } catch (const std::exception& e) {
        std::cerr << "consent-gateway: cannot start: " << e.what() << '\n';
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view first = argc > 1 ? argv[1] : "";
    if (argc == 3 && first == "--check-config") {
        return check(argv[2]);
    }
    if (argc == 2 && first == "--version") {
        std::cout << "consent-gateway " CG_VERSION "\n";
        return 0;
    }
    if (argc == 2 && (first == "--help" || first == "-h")) {
        std::cout << usage;
        return 0;
    }
    if (argc != 2 || first.starts_with("-")) {
        std::cerr << usage;
        return 2;
    }
    return run(argv[1]);
}
