package dev.onionrelay.api;

import dev.onionrelay.fleet.FleetMembers;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.time.Instant;
import java.util.List;
import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** {@code /fleet}: the live instances of this instance's fleet (with the file store, this instance alone). */
@RestController
@RequestMapping(path = "/fleet", produces = MediaType.APPLICATION_JSON_VALUE)
@Tag(name = "fleet", description = "The instances that share one store")
public class FleetController {

    private final FleetMembers members;

    public FleetController(FleetMembers members) {
        this.members = members;
    }

    /** A live member; {@code self} marks the instance that answers. */
    public record MemberView(String name, String url, String version, Instant lastSeen, boolean self) {}

    @GetMapping("/members")
    @Operation(summary = "Live members of the fleet, by name; a member drops out when its lease runs out")
    public List<MemberView> members() {
        String self = members.self();
        return members.live().stream()
                .map(member -> new MemberView(
                        member.name(),
                        member.url(),
                        member.version(),
                        member.lastSeen(),
                        member.name().equals(self)))
                .toList();
    }
}
