// SPDX-License-Identifier: Apache-2.0
// A strict, small JSON reader for the tests of sst-sim --stats-out: the test
// must prove the file parses as JSON (no trailing commas, no inf/nan, valid
// escapes), not only that it contains the right substrings.
#pragma once

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vsst::sim::test {

struct Json {
	enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
	bool b = false;
	double num = 0;
	std::string text; // the number's digits as written, or the string
	std::vector<Json> items;
	std::map<std::string, Json> fields;

	bool has(const std::string &k) const { return kind == Kind::kObject && fields.count(k) != 0; }
	const Json &operator[](const std::string &k) const
	{
		static const Json kNull;
		auto it = fields.find(k);
		return it == fields.end() ? kNull : it->second;
	}
	const Json &operator[](size_t i) const { return items.at(i); }
	// Exact for integers: parsed from the digits, not through double.
	uint64_t u64() const { return std::strtoull(text.c_str(), nullptr, 10); }
	int64_t i64() const { return std::strtoll(text.c_str(), nullptr, 10); }
};

class JsonParser {
public:
	// Keeps a view of `s`: the text must outlive the parser.
	explicit JsonParser(std::string_view s) : s_(s) {}

	// nullopt on any syntax error; error() says where.
	std::optional<Json> parse()
	{
		Json v;
		if (!value(v, 0))
			return std::nullopt;
		ws();
		if (i_ != s_.size())
			return fail("trailing bytes");
		return v;
	}
	const std::string &error() const { return err_; }

private:
	std::nullopt_t fail(const std::string &why)
	{
		if (err_.empty())
			err_ = why + " at byte " + std::to_string(i_);
		return std::nullopt;
	}
	void ws()
	{
		while (i_ < s_.size() &&
		       (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
			++i_;
	}
	bool lit(std::string_view w)
	{
		if (s_.substr(i_, w.size()) != w)
			return false;
		i_ += w.size();
		return true;
	}
	bool value(Json &v, int depth)
	{
		if (depth > 64) {
			fail("too deep");
			return false;
		}
		ws();
		if (i_ >= s_.size()) {
			fail("unexpected end");
			return false;
		}
		const char c = s_[i_];
		if (c == '{')
			return object(v, depth);
		if (c == '[')
			return array(v, depth);
		if (c == '"') {
			v.kind = Json::Kind::kString;
			return string(v.text);
		}
		if (lit("true")) {
			v.kind = Json::Kind::kBool;
			v.b = true;
			return true;
		}
		if (lit("false")) {
			v.kind = Json::Kind::kBool;
			return true;
		}
		if (lit("null"))
			return true;
		return number(v);
	}
	bool number(Json &v)
	{
		const size_t start = i_;
		if (i_ < s_.size() && s_[i_] == '-')
			++i_;
		auto digits = [&] {
			const size_t d = i_;
			while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
				++i_;
			return i_ > d;
		};
		if (!digits()) {
			fail("bad value");
			return false;
		}
		if (i_ < s_.size() && s_[i_] == '.') {
			++i_;
			if (!digits()) {
				fail("bad fraction");
				return false;
			}
		}
		if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
			++i_;
			if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-'))
				++i_;
			if (!digits()) {
				fail("bad exponent");
				return false;
			}
		}
		v.kind = Json::Kind::kNumber;
		v.text = std::string(s_.substr(start, i_ - start));
		v.num = std::strtod(v.text.c_str(), nullptr);
		return true;
	}
	bool string(std::string &out)
	{
		++i_; // opening quote
		while (i_ < s_.size()) {
			const char c = s_[i_++];
			if (c == '"')
				return true;
			if (static_cast<unsigned char>(c) < 0x20) {
				fail("control byte in string");
				return false;
			}
			if (c != '\\') {
				out.push_back(c);
				continue;
			}
			if (i_ >= s_.size())
				break;
			const char e = s_[i_++];
			switch (e) {
			case '"':
			case '\\':
			case '/':
				out.push_back(e);
				break;
			case 'n':
				out.push_back('\n');
				break;
			case 't':
				out.push_back('\t');
				break;
			case 'r':
				out.push_back('\r');
				break;
			case 'b':
				out.push_back('\b');
				break;
			case 'f':
				out.push_back('\f');
				break;
			case 'u': {
				if (i_ + 4 > s_.size()) {
					fail("short \\u escape");
					return false;
				}
				const unsigned long cp =
					std::strtoul(std::string(s_.substr(i_, 4)).c_str(), nullptr, 16);
				i_ += 4;
				// Tests only need the code point to survive; keep it as UTF-8.
				if (cp < 0x80) {
					out.push_back(static_cast<char>(cp));
				} else if (cp < 0x800) {
					out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
					out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
				} else {
					out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
					out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
					out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
				}
				break;
			}
			default:
				fail("bad escape");
				return false;
			}
		}
		fail("unterminated string");
		return false;
	}
	bool array(Json &v, int depth)
	{
		v.kind = Json::Kind::kArray;
		++i_;
		ws();
		if (i_ < s_.size() && s_[i_] == ']') {
			++i_;
			return true;
		}
		for (;;) {
			Json item;
			if (!value(item, depth + 1))
				return false;
			v.items.push_back(std::move(item));
			ws();
			if (i_ < s_.size() && s_[i_] == ',') {
				++i_;
				continue;
			}
			if (i_ < s_.size() && s_[i_] == ']') {
				++i_;
				return true;
			}
			fail("expected , or ]");
			return false;
		}
	}
	bool object(Json &v, int depth)
	{
		v.kind = Json::Kind::kObject;
		++i_;
		ws();
		if (i_ < s_.size() && s_[i_] == '}') {
			++i_;
			return true;
		}
		for (;;) {
			ws();
			std::string key;
			if (i_ >= s_.size() || s_[i_] != '"' || !string(key)) {
				fail("expected a key");
				return false;
			}
			ws();
			if (i_ >= s_.size() || s_[i_] != ':') {
				fail("expected :");
				return false;
			}
			++i_;
			Json item;
			if (!value(item, depth + 1))
				return false;
			if (!v.fields.emplace(key, std::move(item)).second) {
				fail("duplicate key " + key);
				return false;
			}
			ws();
			if (i_ < s_.size() && s_[i_] == ',') {
				++i_;
				continue;
			}
			if (i_ < s_.size() && s_[i_] == '}') {
				++i_;
				return true;
			}
			fail("expected , or }");
			return false;
		}
	}

	std::string_view s_;
	size_t i_ = 0;
	std::string err_;
};

} // namespace vsst::sim::test
