package dev.onionrelay.fleet;

import java.time.Instant;

/**
 * One live instance of a fleet.
 *
 * @param name the instance name, unique in the fleet
 * @param url where its API is reached by the other instances ({@code http://host:port}, no trailing slash)
 * @param version the version it runs
 * @param startedAt when it joined
 * @param lastSeen its last heartbeat, on the database's clock
 */
public record Member(String name, String url, String version, Instant startedAt, Instant lastSeen) {}
