package dev.onionrelay.api;

import dev.onionrelay.api.RelayViews.InstanceView;
import dev.onionrelay.api.RelayViews.RelayView;
import dev.onionrelay.api.RelayViews.StatsView;
import dev.onionrelay.api.RelayViews.TunnelView;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * How the views of this instance and the answers of the other live members make one answer: a relay's
 * {@code instances} list every member (its state there, ABSENT or UNREACHABLE), its stats are summed over the members
 * that answered, and a relay's tunnels are those of every member, oldest first. Pure: no HTTP, no Spring.
 */
public final class FleetViews {

    /** A member that has no such relay (yet). */
    public static final String ABSENT = "ABSENT";

    /** A member that did not answer in time. */
    public static final String UNREACHABLE = "UNREACHABLE";

    /** A member whose lease ran out (less than a lease ago): not asked, maybe only paused. */
    public static final String SUSPECT = "SUSPECT";

    private FleetViews() {}

    /**
     * What one other member answered about a thing: found it, does not have it, or did not answer; or it was not asked
     * because it is suspect.
     */
    public sealed interface MemberAnswer<T> {
        String member();

        record Found<T>(String member, T view) implements MemberAnswer<T> {}

        record NotFound<T>(String member) implements MemberAnswer<T> {}

        record Unreachable<T>(String member, String reason) implements MemberAnswer<T> {}

        /** Its lease ran out; {@code reason} says since when. */
        record Suspect<T>(String member, String reason) implements MemberAnswer<T> {}
    }

    /** The part of another member's relay view that the merge needs. */
    public record MemberRelay(String id, StatsView stats, List<InstanceView> instances) {}

    /** One relay over the fleet: this instance's view, the other members' states appended, stats summed. */
    public static RelayView relay(RelayView local, List<MemberAnswer<MemberRelay>> others) {
        List<InstanceView> instances = new ArrayList<>(local.instances());
        StatsView stats = local.stats();
        for (MemberAnswer<MemberRelay> answer : others) {
            if (answer instanceof MemberAnswer.Found<MemberRelay> found) {
                instances.addAll(found.view().instances());
                stats = sum(stats, found.view().stats());
            } else if (answer instanceof MemberAnswer.Unreachable<MemberRelay> away) {
                instances.add(new InstanceView(away.member(), UNREACHABLE, away.reason(), null, null));
            } else if (answer instanceof MemberAnswer.Suspect<MemberRelay> suspect) {
                instances.add(new InstanceView(suspect.member(), SUSPECT, suspect.reason(), null, null));
            } else {
                instances.add(new InstanceView(answer.member(), ABSENT, "this instance has no such relay", null, null));
            }
        }
        return new RelayView(
                local.id(),
                local.name(),
                local.state(),
                local.error(),
                local.listen(),
                local.target(),
                local.ingress(),
                local.egress(),
                local.options(),
                local.createdAt(),
                local.revision(),
                stats,
                List.copyOf(instances),
                local.warnings());
    }

    /**
     * Every relay of this instance over the fleet, from one answer per member (its whole list): a relay missing from
     * a member's list is ABSENT there, a member that did not answer is UNREACHABLE for every relay.
     */
    public static List<RelayView> relays(List<RelayView> local, List<MemberAnswer<List<MemberRelay>>> others) {
        return local.stream()
                .map(relay -> relay(
                        relay,
                        others.stream().map(answer -> about(relay.id(), answer)).toList()))
                .toList();
    }

    /** The tunnels of every member that answered, oldest first. */
    public static List<TunnelView> tunnels(List<TunnelView> local, List<MemberAnswer<List<TunnelView>>> others) {
        List<TunnelView> all = new ArrayList<>(local);
        for (MemberAnswer<List<TunnelView>> answer : others) {
            if (answer instanceof MemberAnswer.Found<List<TunnelView>> found) {
                all.addAll(found.view());
            }
        }
        all.sort(Comparator.comparing(TunnelView::openedAt).thenComparing(TunnelView::id));
        return List.copyOf(all);
    }

    /** The members that did not answer, or were not asked because they are suspect. */
    public static List<String> unreachable(List<? extends MemberAnswer<?>> answers) {
        return answers.stream()
                .filter(answer ->
                        answer instanceof MemberAnswer.Unreachable<?> || answer instanceof MemberAnswer.Suspect<?>)
                .map(MemberAnswer::member)
                .toList();
    }

    private static MemberAnswer<MemberRelay> about(String relayId, MemberAnswer<List<MemberRelay>> answer) {
        if (answer instanceof MemberAnswer.Found<List<MemberRelay>> found) {
            Optional<MemberRelay> relay = found.view().stream()
                    .filter(candidate -> candidate.id().equals(relayId))
                    .findFirst();
            return relay.<MemberAnswer<MemberRelay>>map(r -> new MemberAnswer.Found<>(found.member(), r))
                    .orElseGet(() -> new MemberAnswer.NotFound<>(found.member()));
        }
        if (answer instanceof MemberAnswer.Unreachable<List<MemberRelay>> away) {
            return new MemberAnswer.Unreachable<>(away.member(), away.reason());
        }
        if (answer instanceof MemberAnswer.Suspect<List<MemberRelay>> suspect) {
            return new MemberAnswer.Suspect<>(suspect.member(), suspect.reason());
        }
        return new MemberAnswer.NotFound<>(answer.member());
    }

    private static StatsView sum(StatsView a, StatsView b) {
        return new StatsView(
                a.activeTunnels() + b.activeTunnels(),
                a.totalTunnels() + b.totalTunnels(),
                a.handshakeFailures() + b.handshakeFailures(),
                a.bytesIn() + b.bytesIn(),
                a.bytesOut() + b.bytesOut(),
                a.rejectedTunnels() + b.rejectedTunnels(),
                a.connectFailures() + b.connectFailures());
    }
}
