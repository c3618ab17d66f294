#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "consent/decision_event.hpp"

namespace cg::consent {

/// One event read back from the journal.
struct journal_entry {
    std::chrono::seconds retention{0};
    decision_event event;
    std::string json;       ///< the event as stored (to_json)
    std::uint64_t end = 0;  ///< file offset just past this entry's newline
};

/// The local outage journal (DESIGN §6): an append-only file of lines
/// `<retention seconds> <event json>\n`, fsync'd after every append. Not thread safe: the
/// store's writer thread is the only one that changes it (append, clear, rewrite_without) and
/// does so under the store's journal mutex, which its reader thread holds while it reads
/// (read() uses pread and changes nothing, so the writer may read without the mutex). The
/// file's content is untrusted (a crash can leave a half-written line; a disk can damage
/// one): damaged lines are skipped and counted, never thrown on.
class journal {
  public:
    /// Opens or creates `path` (mode 0600; the directory is fsync'd when the file is new),
    /// takes an exclusive flock so two stores never share one journal, terminates a
    /// half-written last line and counts the lines. Throws std::runtime_error naming the
    /// path when any of that fails.
    journal(std::filesystem::path path, std::uint64_t max_bytes);
    ~journal();
    journal(const journal&) = delete;
    journal& operator=(const journal&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }
    std::uint64_t max_bytes() const noexcept { return max_bytes_; }
    std::uint64_t size() const noexcept { return size_; }
    /// Valid event lines in the file.
    std::uint64_t entries() const noexcept { return entries_; }
    /// Damaged lines found when the journal was opened.
    std::uint64_t damaged_at_open() const noexcept { return damaged_at_open_; }

    /// A line to append.
    struct line {
        std::chrono::seconds retention{0};
        std::string_view json;
    };
    struct append_result {
        std::size_t appended = 0;  ///< the first `appended` lines are durable
        std::string error;         ///< why the others are not ("" when all are)
    };
    /// Appends as many of `lines` (in order) as fit under max_bytes with one write and one
    /// fsync (group commit). On a write or fsync error nothing counts as appended and the
    /// file is cut back to where it was.
    append_result append(const std::vector<line>& lines);

    struct chunk {
        std::vector<journal_entry> entries;
        std::uint64_t next = 0;     ///< where to read on (past any damaged lines read)
        std::uint64_t damaged = 0;  ///< damaged lines passed over
        std::string error;          ///< a read error ("" when none)
    };
    /// Reads up to `max_entries` valid entries from byte `offset` (a line start).
    chunk read(std::uint64_t offset, std::size_t max_entries) const;

    /// Empties the file (ftruncate 0 + fsync). Returns "" or the error.
    std::string clear();

    /// Rewrites the journal without the entries `drop` selects, and without damaged lines:
    /// a temp file is written, fsync'd and renamed over the journal, then the directory is
    /// fsync'd. `removed` gets how many entries were dropped. Returns "" or the error (the
    /// journal is then unchanged).
    std::string rewrite_without(const std::function<bool(const journal_entry&)>& drop,
                                std::uint64_t& removed);

  private:
    /// Calls `f(line, end)` for each line from `offset`; `line` is nullopt for a line too
    /// long to be ours. Stops when `f` returns false. Returns "" or the read error.
    std::string scan(
        std::uint64_t offset,
        const std::function<bool(std::optional<std::string_view>, std::uint64_t)>& f) const;
    std::string fsync_dir() const;

    std::filesystem::path path_;
    std::uint64_t max_bytes_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::uint64_t entries_ = 0;
    std::uint64_t damaged_at_open_ = 0;
};

/// Parses one journal line (without its newline); nullopt when damaged. Never throws.
std::optional<journal_entry> parse_journal_line(std::string_view line);

}  // namespace cg::consent
