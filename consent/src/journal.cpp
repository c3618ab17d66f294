#include "journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace cg::consent {

namespace {

/// An event line is a few hundred bytes; a "line" longer than this is damage, not an event.
constexpr std::size_t max_line = 64 * 1024 + 32;
constexpr std::size_t read_block = 256 * 1024;

/// Retention is at most a few years; twelve digits leave room and rule out overflow.
constexpr std::size_t max_retention_digits = 12;

std::string errno_text(int err) {
    return std::strerror(err);  // NOLINT(concurrency-mt-unsafe): only the store thread calls
}

/// Closes a descriptor on every path out of a function (STYLE §4).
class fd_guard {
  public:
    explicit fd_guard(int fd) noexcept : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const noexcept { return fd_; }
    int release() noexcept {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }

  private:
    int fd_;
};

/// write(2) until everything is written; false with errno set on failure.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const auto n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::string line_text(std::chrono::seconds retention, std::string_view json) {
    std::string text = std::to_string(retention.count());
    text.reserve(text.size() + json.size() + 2);
    text += ' ';
    text += json;
    text += '\n';
    return text;
}

}  // namespace

std::optional<journal_entry> parse_journal_line(std::string_view line) {
    const auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space > max_retention_digits) {
        return std::nullopt;
    }
    std::int64_t seconds = 0;
    const auto* first = line.data();
    const auto* last = line.data() + space;
    const auto [ptr, ec] = std::from_chars(first, last, seconds);
    if (ec != std::errc{} || ptr != last || seconds <= 0) {
        return std::nullopt;
    }
    auto event = event_from_json(line.substr(space + 1));
    if (!event) {
        return std::nullopt;
    }
    journal_entry entry;
    entry.retention = std::chrono::seconds{seconds};
    // Stored in canonical form, so Redis gets exactly what to_json writes.
    entry.json = to_json(*event);
    entry.event = std::move(*event);
    return entry;
}

journal::journal(std::filesystem::path path, std::uint64_t max_bytes)
    : path_(std::move(path)), max_bytes_(max_bytes) {
    const auto fail = [this](const char* what, int err) {
        return std::runtime_error("consent journal " + path_.string() + ": " + what + ": " +
                                  errno_text(err));
    };
    bool created = false;
    int raw = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
    if (raw < 0 && errno == ENOENT) {
        raw = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        created = raw >= 0;
    }
    fd_guard fd{raw};
    if (fd.get() < 0) {
        throw fail("cannot open", errno);
    }
    // Two stores appending to and truncating one file would lose each other's events.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err == EWOULDBLOCK) {
            throw std::runtime_error("consent journal " + path_.string() +
                                     ": in use by another store (locked)");
        }
        throw fail("cannot lock", err);
    }
    if (created) {
        // The new file's directory entry must be durable too, or a crash loses the journal.
        if (auto err = fsync_dir(); !err.empty()) {
            throw std::runtime_error(err);
        }
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw fail("cannot stat", errno);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ > 0) {
        // A crash during an append can leave a half line; end it, so the next append starts
        // a line of its own and replay skips the damaged one.
        char last = '\n';
        if (::pread(fd.get(), &last, 1, static_cast<off_t>(size_ - 1)) != 1) {
            throw fail("cannot read", errno);
        }
        if (last != '\n') {
            if (!write_all(fd.get(), "\n") || ::fsync(fd.get()) != 0) {
                throw fail("cannot repair the last line", errno);
            }
            ++size_;
        }
    }
    fd_ = fd.release();
    const auto error = scan(0, [this](std::optional<std::string_view> l, std::uint64_t) {
        if (l && parse_journal_line(*l)) {
            ++entries_;
        } else {
            ++damaged_at_open_;
        }
        return true;
    });
    if (!error.empty()) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(error);
    }
}

journal::~journal() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

std::string journal::fsync_dir() const {
    auto dir = path_.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    fd_guard fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
        return "consent journal " + path_.string() +
               ": cannot fsync its directory: " + errno_text(errno);
    }
    return {};
}

std::string journal::scan(
    std::uint64_t offset,
    const std::function<bool(std::optional<std::string_view>, std::uint64_t)>& f) const {
    std::string block(read_block, '\0');
    std::string partial;    // the start of a line that continues in the next block
    bool too_long = false;  // inside a line longer than max_line
    std::uint64_t pos = offset;
    for (;;) {
        const auto n = ::pread(fd_, block.data(), block.size(), static_cast<off_t>(pos));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return "consent journal " + path_.string() + ": cannot read: " + errno_text(errno);
        }
        if (n == 0) {
            break;
        }
        const auto got = static_cast<std::size_t>(n);
        const std::uint64_t block_start = pos;
        pos += got;
        std::string_view data{block.data(), got};
        while (!data.empty()) {
            const auto newline = data.find('\n');
            if (newline == std::string_view::npos) {
                if (!too_long) {
                    partial.append(data);
                    if (partial.size() > max_line) {
                        too_long = true;
                        partial.clear();
                    }
                }
                break;
            }
            const std::uint64_t end = block_start + (got - data.size()) + newline + 1;
            const auto piece = data.substr(0, newline);
            data.remove_prefix(newline + 1);
            bool go_on = true;
            if (too_long || partial.size() + piece.size() > max_line) {
                go_on = f(std::nullopt, end);
            } else if (partial.empty()) {
                go_on = f(piece, end);
            } else {
                partial.append(piece);
                go_on = f(std::string_view{partial}, end);
            }
            too_long = false;
            partial.clear();
            if (!go_on) {
                return {};
            }
        }
    }
    if (too_long || !partial.empty()) {
        f(std::nullopt, pos);  // unterminated: only a line being written right now
    }
    return {};
}

journal::append_result journal::append(const std::vector<line>& lines) {
    append_result result;
    std::string data;
    std::size_t fit = 0;
    for (const auto& l : lines) {
        auto text = line_text(l.retention, l.json);
        if (size_ + data.size() + text.size() > max_bytes_) {
            result.error = "journal full (" + std::to_string(max_bytes_) +
                           " bytes): consent events cannot be recorded until Redis is back";
            break;
        }
        data += text;
        ++fit;
    }
    if (fit == 0) {
        return result;
    }
    const auto cut_back = [this](const char* what, int err) {
        // Whatever part reached the file is not acknowledged; remove it so a later line does
        // not start in the middle of this one.
        if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0) {
            ::fsync(fd_);
        }
        return "journal " + path_.string() + ": " + what + " failed (" + errno_text(err) +
               "): consent events cannot be recorded until Redis is back";
    };
    // One write and one fsync for the whole batch: group commit.
    if (!write_all(fd_, data)) {
        result.error = cut_back("write", errno);
        return result;
    }
    if (::fsync(fd_) != 0) {
        result.error = cut_back("fsync", errno);
        return result;
    }
    size_ += data.size();
    entries_ += fit;
    result.appended = fit;
    return result;
}

journal::chunk journal::read(std::uint64_t offset, std::size_t max_entries) const {
    chunk c;
    c.next = offset;
    c.error = scan(offset, [&](std::optional<std::string_view> l, std::uint64_t end) {
        if (c.entries.size() >= max_entries) {
            return false;
        }
        c.next = end;
        auto entry = l ? parse_journal_line(*l) : std::nullopt;
        if (!entry) {
            ++c.damaged;
            return true;
        }
        entry->end = end;
        c.entries.push_back(std::move(*entry));
        return true;
    });
    return c;
}

std::string journal::clear() {
    if (::ftruncate(fd_, 0) != 0 || ::fsync(fd_) != 0) {
        return "consent journal " + path_.string() + ": cannot truncate: " + errno_text(errno);
    }
    size_ = 0;
    entries_ = 0;
    return {};
}

std::string journal::rewrite_without(const std::function<bool(const journal_entry&)>& drop,
                                     std::uint64_t& removed) {
    removed = 0;
    auto tmp = path_;
    tmp += ".tmp";
    const auto fail = [&](const char* what, int err) {
        ::unlink(tmp.c_str());
        return "consent journal " + path_.string() + ": rewrite: " + what + ": " + errno_text(err);
    };
    fd_guard out{::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (out.get() < 0) {
        return fail("cannot create the temp file", errno);
    }
    // Locked before it becomes the journal, so no other store can take it in between.
    if (::flock(out.get(), LOCK_EX | LOCK_NB) != 0) {
        return fail("cannot lock the temp file", errno);
    }
    std::string buffer;
    std::uint64_t written = 0;
    std::uint64_t kept = 0;
    bool write_failed = false;
    const auto error = scan(0, [&](std::optional<std::string_view> l, std::uint64_t) {
        auto entry = l ? parse_journal_line(*l) : std::nullopt;
        if (!entry) {
            return true;  // damaged lines are not carried over
        }
        if (drop(*entry)) {
            ++removed;
            return true;
        }
        buffer += line_text(entry->retention, entry->json);
        ++kept;
        if (buffer.size() >= read_block) {
            if (!write_all(out.get(), buffer)) {
                write_failed = true;
                return false;
            }
            written += buffer.size();
            buffer.clear();
        }
        return true;
    });
    if (!error.empty()) {
        ::unlink(tmp.c_str());
        return error;
    }
    if (write_failed || !write_all(out.get(), buffer)) {
        return fail("write", errno);
    }
    written += buffer.size();
    if (removed == 0) {
        ::unlink(tmp.c_str());
        return {};
    }
    if (::fsync(out.get()) != 0) {
        return fail("fsync", errno);
    }
    const int flags = ::fcntl(out.get(), F_GETFL);
    if (flags < 0 || ::fcntl(out.get(), F_SETFL, flags | O_APPEND) != 0) {
        return fail("fcntl", errno);
    }
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
        return fail("rename", errno);
    }
    // From here the new file is the journal, whatever happens to the directory fsync.
    ::close(fd_);
    fd_ = out.release();
    size_ = written;
    entries_ = kept;
    return fsync_dir();
}

}  // namespace cg::consent
