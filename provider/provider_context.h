// The state of one onem2m provider instance: its core handle, the core's
// error functions, a child library context that sees the application's
// providers, and the inner algorithms fetched from it on first use.

#ifndef ONEM2M_PROVIDER_PROVIDER_CONTEXT_H_
#define ONEM2M_PROVIDER_PROVIDER_CONTEXT_H_

#include <openssl/core.h>
#include <openssl/types.h>

#include <atomic>
#include <mutex>

#include "provider_errors.h"

namespace onem2m::provider {

class InnerAlgorithms;

class ProviderContext {
 public:
  // ProviderContext takes ownership of |libctx|, the child library context.
  ProviderContext(const CoreErrors& errors, OSSL_LIB_CTX* libctx);
  ~ProviderContext();

  ProviderContext(const ProviderContext&) = delete;
  ProviderContext& operator=(const ProviderContext&) = delete;

  const CoreErrors& errors() const { return errors_; }

  // Inner returns the inner algorithms, fetching them on the first call.
  // Safe to call from many threads at once. Returns nullptr, with
  // kReasonInnerUnavailable raised, when they cannot be fetched; a later
  // call tries again (the application may load the default provider).
  const InnerAlgorithms* Inner();

 private:
  CoreErrors errors_;
  OSSL_LIB_CTX* libctx_;
  std::atomic<InnerAlgorithms*> inner_{nullptr};
  std::mutex inner_mutex_;
};

}  // namespace onem2m::provider

#endif  // ONEM2M_PROVIDER_PROVIDER_CONTEXT_H_
