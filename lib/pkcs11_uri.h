// PKCS#11 URIs (RFC 7512) that name a token and, optionally, one secret key
// object on it: where a keystore file is accepted, a URI such as
//
//   pkcs11:token=cse;object=dev-0001@sp.example.com
//     ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/pin
//
// selects a keystore whose Root Keys stay in the token. Pure parsing: no
// module is loaded here.

#ifndef ONEM2M_LIB_PKCS11_URI_H_
#define ONEM2M_LIB_PKCS11_URI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace onem2m {

// The URI scheme, with its colon; matched without regard to case.
inline constexpr std::string_view kPkcs11Scheme = "pkcs11:";

// Environment variables consulted when the URI leaves a value out.
inline constexpr char kPkcs11ModuleEnv[] = "ONEM2M_PKCS11_MODULE";
inline constexpr char kPkcs11PinEnv[] = "ONEM2M_PKCS11_PIN";

// Pkcs11Uri holds the attributes of RFC 7512 that this project uses, each
// percent-decoded. An attribute left out of the URI is empty (or unset).
struct Pkcs11Uri {
  // Path attributes (section 2.3) that select the token.
  std::string token;         // CK_TOKEN_INFO label
  std::string manufacturer;  // CK_TOKEN_INFO manufacturerID
  std::string serial;        // CK_TOKEN_INFO serialNumber
  std::string model;         // CK_TOKEN_INFO model
  std::optional<uint64_t> slot_id;
  // Path attributes that select one object; neither: every secret key.
  std::optional<std::string> object;  // CKA_LABEL
  std::optional<std::string> id;      // CKA_ID, raw octets
  // Query attributes (section 2.4).
  std::string module_path;
  std::string pin_source;  // a file path, or a file: URI
  // pin-value: the library accepts it, the CLI refuses it (a command line
  // is visible to every user through ps).
  std::optional<std::string> pin_value;
};

// IsPkcs11Uri tells whether |location| is a PKCS#11 URI rather than a path.
bool IsPkcs11Uri(std::string_view location);

// ParsePkcs11Uri parses |text| into |uri|. On failure it returns false with
// |why| set to a message that names the offending attribute; the message
// never quotes a pin-value.
bool ParsePkcs11Uri(std::string_view text, Pkcs11Uri* uri, std::string* why);

// PinSourcePath returns the file that a pin-source names: the value itself,
// or the path of a "file:" URI. Returns std::nullopt (|why| set) for
// another scheme.
std::optional<std::string> PinSourcePath(const std::string& pin_source,
                                         std::string* why);

}  // namespace onem2m

#endif  // ONEM2M_LIB_PKCS11_URI_H_
