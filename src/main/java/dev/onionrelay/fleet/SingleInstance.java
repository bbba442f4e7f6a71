package dev.onionrelay.fleet;

import java.time.Instant;
import java.util.List;

/** The fleet of an instance that shares no store: itself alone, always live. */
public final class SingleInstance implements FleetMembers {

    private final Member self;

    public SingleInstance(String name, String url, String version) {
        Instant now = Instant.now();
        this.self = new Member(name, url, version, now, now);
    }

    @Override
    public String self() {
        return self.name();
    }

    @Override
    public List<Member> live() {
        Instant now = Instant.now();
        return List.of(new Member(self.name(), self.url(), self.version(), self.startedAt(), now));
    }
}
