#pragma once
/// \file
/// The gateway's loopback probe topic (DESIGN.md, "Wire contract": gateway-internal topics).
///
///   sewage/v1/gateway/probe             gateway -> itself, QoS 1, not retained
///
/// The gateway publishes a probe (payload: its own decimal sequence number, nothing else) and
/// subscribes to it: a probe that comes back proves that everything the broker received before it
/// has reached the gateway, so a broker that stalls (paused, overloaded, a half-open TCP link
/// still answering keep-alive late) is not taken for every terminal falling silent. No other
/// client publishes or reads it (the broker ACL written by sewage-provision grants it to the
/// gateway's account only). It is not a message of the contract: parse_topic() rejects it like
/// any unknown gateway topic, and nothing but the gateway's MQTT link ever sees it.
/// Kept apart from topic.hpp so that adding it did not change the header every component includes.

#include <string>

namespace sewage::proto {

/// "sewage/v1/gateway/probe". Never throws except bad_alloc. Thread-safe.
std::string gateway_probe_topic();

}  // namespace sewage::proto
