// consent-gateway: the process entry point. Everything else lives in the libraries so tests
// can link it (STYLE.md §1).
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/crypto.h>

#include "admin_auth.hpp"
#include "banner_filter.hpp"
#include "gateway/config.hpp"
#include "gateway/server.hpp"

namespace {

constexpr std::string_view usage =
    "usage: consent-gateway CONFIG.json            run the gateway\n"
    "       consent-gateway --check-config FILE    validate a configuration and exit\n"
    "       consent-gateway --privacy-text CONFIG SITE [--lang nb|en] [--format markdown|html]\n"
    "                                              print the cookie and statistics section of\n"
    "                                              SITE's privacy statement (default nb, "
    "markdown)\n"
    "       consent-gateway --hash-password        read a password (one line) from standard\n"
    "                                              input, print its hash for admin.users\n"
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

// --privacy-text CONFIG SITE [--lang nb|en] [--format markdown|html]: exit 2 for bad arguments,
// a bad configuration or an unknown site.
int privacy_text(int argc, char** argv) {
    auto lang = cg::banner::language::nb;
    auto format = cg::banner::text_format::markdown;
    for (int i = 4; i < argc; i += 2) {
        const std::string_view option = argv[i];
        const std::string_view value = i + 1 < argc ? argv[i + 1] : "";
        if (option == "--lang" && (value == "nb" || value == "en")) {
            lang = value == "en" ? cg::banner::language::en : cg::banner::language::nb;
        } else if (option == "--format" && (value == "markdown" || value == "html")) {
            format =
                value == "html" ? cg::banner::text_format::html : cg::banner::text_format::markdown;
        } else {
            std::cerr << "consent-gateway: --privacy-text: expected --lang nb|en or --format "
                         "markdown|html, got \""
                      << option << (value.empty() ? "" : " ") << value << "\"\n";
            return 2;
        }
    }
    try {
        std::cout << cg::gateway::site_privacy_text(cg::gateway::load_config(argv[2]), argv[3],
                                                    lang, format);
        return 0;
    } catch (const cg::gateway::config_error& e) {
        std::cerr << e.what() << '\n';
    } catch (const std::invalid_argument& e) {
        std::cerr << "consent-gateway: --privacy-text: " << e.what() << '\n';
    }
    return 2;
}

// Turns terminal echo off while a password is typed, and back on.
class no_echo {
  public:
    no_echo() {
        if (isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios quiet = saved_;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    ~no_echo() {
        if (active_) {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
            std::cerr << '\n';
        }
    }
    no_echo(const no_echo&) = delete;
    no_echo& operator=(const no_echo&) = delete;

  private:
    termios saved_{};
    bool active_ = false;
};

// One line from standard input, the line end (LF or CRLF) removed; the hash on stdout. Exit 2
// for an empty or too long password, 1 if the random generator fails.
int hash_password() {
    if (isatty(STDIN_FILENO) == 1) {
        std::cerr << "password: " << std::flush;
    }
    std::string password;
    {
        const no_echo quiet;
        std::getline(std::cin, password);
    }
    if (!password.empty() && password.back() == '\r') {
        password.pop_back();
    }
    int status = 0;
    if (password.empty()) {
        std::cerr << "consent-gateway: --hash-password: the password is empty (give it as one "
                     "line on standard input)\n";
        status = 2;
    } else if (password.size() > cg::gateway::max_password_bytes) {
        std::cerr << "consent-gateway: --hash-password: the password is longer than "
                  << cg::gateway::max_password_bytes << " bytes\n";
        status = 2;
    } else {
        try {
            std::cout << cg::gateway::hash_password(password) << '\n';
        } catch (const std::exception& e) {
            std::cerr << "consent-gateway: --hash-password: " << e.what() << '\n';
            status = 1;
        }
    }
    OPENSSL_cleanse(password.data(), password.size());
    return status;
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
        // SIGHUP reloads the same file (`systemctl reload`, `kill -HUP`).
        srv.handle_signals([path = std::string{file}] { return cg::gateway::load_config(path); });
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
    if (argc >= 4 && first == "--privacy-text") {
        return privacy_text(argc, argv);
    }
    if (argc == 2 && first == "--hash-password") {
        return hash_password();
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
