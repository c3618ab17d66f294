#include "support/prometheus.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "support/eventually.hpp"
#include "support/raw_client.hpp"

namespace cg::test {

std::optional<double> metric(std::string_view exposition, std::string_view sample) {
    std::size_t pos = 0;
    while (pos < exposition.size()) {
        const auto end = std::min(exposition.find('\n', pos), exposition.size());
        const auto line = exposition.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() > sample.size() && line.starts_with(sample) && line[sample.size()] == ' ') {
            const auto text = line.substr(sample.size() + 1);
            double value = 0;
            const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec == std::errc{}) {
                return value;
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<double> await_metric(std::uint16_t admin_port, std::string_view sample,
                                   double expected, std::chrono::milliseconds deadline) {
    std::optional<double> last;
    eventually(
        [&] {
            const auto r = http_get(admin_port, "127.0.0.1", "/metrics", std::chrono::seconds{5});
            last = r.ec ? std::nullopt : metric(r.body, sample);
            return last == expected;
        },
        deadline);
    return last;
}

}  // namespace cg::test
