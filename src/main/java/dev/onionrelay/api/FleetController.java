package dev.onionrelay.api;

import dev.onionrelay.fleet.FleetMembers;
import dev.onionrelay.fleet.Member;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code /fleet}: the live instances of this instance's fleet (with the file store, this instance alone). */
@RestController
@RequestMapping(path = "/fleet", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "fleet", description = "The instances that share one store")
public class FleetController {

    private static final String LIVE = "LIVE";

    private final FleetMembers members;

    public FleetController(FleetMembers members) {
        this.members = members;
    }

    /**
     * A member; {@code self} marks the instance that answers. {@code state} is LIVE, or SUSPECT when its lease ran out
     * less than a second lease ago (it may only be paused and still hold tunnels).
     */
    public record MemberView(String name, String url, String version, Instant lastSeen, boolean self, String state) {}

    @GetMapping("/members")
    @Operation(
            summary = "Members of the fleet, by name: LIVE, or SUSPECT for one lease after theirs ran out;"
                    + " then a member is gone")
    public List<MemberView> members() {
        String self = members.self();
        return Stream.concat(
                        members.live().stream().map(member -> view(member, self, LIVE)),
                        members.suspect().stream().map(member -> view(member, self, FleetViews.SUSPECT)))
                .sorted(Comparator.comparing(MemberView::name))
                .toList();
    }

    private static MemberView view(Member member, String self, String state) {
        return new MemberView(
                member.name(),
                member.url(),
                member.version(),
                member.lastSeen(),
                member.name().equals(self),
                state);
    }
}
