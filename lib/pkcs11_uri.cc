// RFC 7512 parsing: "pkcs11:" path-attributes ["?" query-attributes], each
// "name=value" with percent-encoded values, ';' between path attributes and
// '&' between query attributes.

#include "pkcs11_uri.h"

#include <cctype>
#include <set>
#include <vector>

#include "protocol.h"

namespace onem2m {

namespace {

// PercentDecode decodes RFC 3986 section 2.1 "%XX" escapes of |value|.
bool PercentDecode(std::string_view value, std::string* out) {
  out->clear();
  for (size_t i = 0; i < value.size(); i++) {
    if (value[i] != '%') {
      out->push_back(value[i]);
      continue;
    }
    if (i + 2 >= value.size()) {
      return false;
    }
    int hi = HexValue(value[i + 1]);
    int lo = HexValue(value[i + 2]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out->push_back(static_cast<char>((hi << 4) | lo));
    i += 2;
  }
  return true;
}

// Attribute is one "name=value" of the URI, its value decoded.
struct Attribute {
  std::string name;
  std::string value;
};

// SplitAttributes splits |part| at |separator| into decoded attributes;
// |where| ("path" or "query") goes into messages.
bool SplitAttributes(std::string_view part, char separator, const char* where,
                     std::vector<Attribute>* out, std::string* why) {
  std::set<std::string> seen;
  size_t start = 0;
  while (start <= part.size()) {
    size_t end = part.find(separator, start);
    if (end == std::string_view::npos) {
      end = part.size();
    }
    std::string_view item = part.substr(start, end - start);
    start = end + 1;
    if (item.empty()) {
      *why = std::string("PKCS#11 URI has an empty ") + where +
             " attribute (two '" + separator + "' in a row, or one at an end)";
      return false;
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      *why = std::string("PKCS#11 URI ") + where + " attribute \"" +
             std::string(item.substr(0, eq)) +
             "\" is not of the form name=value";
      return false;
    }
    Attribute a{std::string(item.substr(0, eq)), ""};
    if (!PercentDecode(item.substr(eq + 1), &a.value)) {
      *why = "PKCS#11 URI attribute " + a.name +
             " has a '%' that is not followed by two hex digits";
      return false;
    }
    if (!seen.insert(a.name).second) {
      *why = "PKCS#11 URI attribute " + a.name + " appears twice";
      return false;
    }
    out->push_back(std::move(a));
  }
  return true;
}

bool ParseSlotId(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *out = std::stoull(text);
  return true;
}

}  // namespace

bool IsPkcs11Uri(std::string_view location) {
  if (location.size() < kPkcs11Scheme.size()) {
    return false;
  }
  for (size_t i = 0; i < kPkcs11Scheme.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(location[i])) !=
        kPkcs11Scheme[i]) {
      return false;
    }
  }
  return true;
}

bool ParsePkcs11Uri(std::string_view text, Pkcs11Uri* uri, std::string* why) {
  if (!IsPkcs11Uri(text)) {
    *why = "not a PKCS#11 URI: it must start with pkcs11:";
    return false;
  }
  *uri = Pkcs11Uri();
  std::string_view rest = text.substr(kPkcs11Scheme.size());
  size_t question = rest.find('?');
  std::string_view path = rest.substr(0, question);
  std::string_view query = question == std::string_view::npos
                               ? std::string_view()
                               : rest.substr(question + 1);

  // The path selects the token and the object (RFC 7512 section 2.3).
  std::vector<Attribute> attributes;
  if (!path.empty() && !SplitAttributes(path, ';', "path", &attributes, why)) {
    return false;
  }
  for (Attribute& a : attributes) {
    if (a.name == "token") {
      uri->token = std::move(a.value);
    } else if (a.name == "manufacturer") {
      uri->manufacturer = std::move(a.value);
    } else if (a.name == "serial") {
      uri->serial = std::move(a.value);
    } else if (a.name == "model") {
      uri->model = std::move(a.value);
    } else if (a.name == "object") {
      if (std::optional<std::string> bad = CheckKeyId(a.value)) {
        *why = "PKCS#11 URI object is not a KeyID: " + *bad;
        return false;
      }
      uri->object = std::move(a.value);
    } else if (a.name == "id") {
      if (a.value.empty()) {
        *why = "PKCS#11 URI id is empty; give the CKA_ID percent-encoded";
        return false;
      }
      uri->id = std::move(a.value);
    } else if (a.name == "slot-id") {
      uint64_t slot = 0;
      if (!ParseSlotId(a.value, &slot)) {
        *why =
            "PKCS#11 URI slot-id \"" + a.value + "\" is not a decimal number";
        return false;
      }
      uri->slot_id = slot;
    } else if (a.name == "type") {
      if (a.value != "secret-key") {
        *why = "PKCS#11 URI type=" + a.value +
               ": Root Keys are secret keys; use type=secret-key or leave "
               "type out";
        return false;
      }
    } else {
      *why = "PKCS#11 URI path attribute " + a.name +
             " is not supported (use token, manufacturer, serial, model, "
             "slot-id, object, id, type)";
      return false;
    }
  }

  // The query says how to reach the token (section 2.4).
  attributes.clear();
  if (question != std::string_view::npos &&
      !SplitAttributes(query, '&', "query", &attributes, why)) {
    return false;
  }
  for (Attribute& a : attributes) {
    if (a.name != "pin-value" && a.value.empty()) {
      *why = "PKCS#11 URI " + a.name + " is empty";
      return false;
    }
    if (a.name == "module-path") {
      uri->module_path = std::move(a.value);
    } else if (a.name == "pin-source") {
      uri->pin_source = std::move(a.value);
    } else if (a.name == "pin-value") {
      uri->pin_value = std::move(a.value);
    } else if (a.name == "module-name") {
      *why =
          "PKCS#11 URI module-name is not supported; give the module's file "
          "with module-path= or ONEM2M_PKCS11_MODULE";
      return false;
    } else {
      *why = "PKCS#11 URI query attribute " + a.name +
             " is not supported (use module-path, pin-source, pin-value)";
      return false;
    }
  }
  if (uri->pin_value.has_value() && !uri->pin_source.empty()) {
    *why = "PKCS#11 URI has both pin-source and pin-value; give one";
    return false;
  }
  return true;
}

std::optional<std::string> PinSourcePath(const std::string& pin_source,
                                         std::string* why) {
  // A bare path, or file: with an absolute path ("file:///p" or "file:/p").
  size_t colon = pin_source.find(':');
  size_t slash = pin_source.find('/');
  if (colon == std::string::npos ||
      (slash != std::string::npos && slash < colon)) {
    return pin_source;
  }
  std::string scheme = pin_source.substr(0, colon);
  if (scheme != "file") {
    *why = "pin-source " + scheme +
           ": is not supported; give a file path or a file: URI";
    return std::nullopt;
  }
  std::string path = pin_source.substr(colon + 1);
  if (path.rfind("//", 0) == 0) {
    size_t next = path.find('/', 2);
    if (next != 2) {
      *why = "pin-source " + pin_source +
             " names a host; write file:///absolute/path";
      return std::nullopt;
    }
    path = path.substr(2);
  }
  return path;
}

}  // namespace onem2m
