package dev.onionrelay.api;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.api.FleetViews.MemberAnswer;
import dev.onionrelay.api.FleetViews.MemberRelay;
import dev.onionrelay.api.RelayViews.InstanceView;
import dev.onionrelay.api.RelayViews.RelayView;
import dev.onionrelay.api.RelayViews.StackView;
import dev.onionrelay.api.RelayViews.StatsView;
import dev.onionrelay.api.RelayViews.TunnelView;
import dev.onionrelay.relay.Endpoint;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** How this instance's views and the other members' answers make one answer for the fleet. */
class FleetViewsTest {

    static final StatsView ONE = new StatsView(1, 10, 2, 100, 200, 3, 4);

    static RelayView local(String id) {
        return new RelayView(
                id,
                "r-" + id,
                "LISTENING",
                null,
                new Endpoint("127.0.0.1", 7000),
                new RelayViews.TargetView("127.0.0.1", 8000, null, null, null, null, null),
                List.of(),
                List.of(),
                null,
                Instant.EPOCH,
                1,
                ONE,
                List.of(new InstanceView("a", "LISTENING", null, 1, null)),
                null);
    }

    static MemberRelay on(String member, String id, String state, StatsView stats) {
        return new MemberRelay(id, stats, List.of(new InstanceView(member, state, null, stats.activeTunnels(), null)));
    }

    static Stream<Arguments> answers() {
        return Stream.of(
                Arguments.of("alone", List.of(), List.of("a:LISTENING"), 1),
                Arguments.of(
                        "a member that has it adds its state and its stats",
                        List.of(new MemberAnswer.Found<>("b", on("b", "r1", "LISTENING", ONE))),
                        List.of("a:LISTENING", "b:LISTENING"),
                        2),
                Arguments.of(
                        "a member where it FAILED is listed FAILED",
                        List.of(new MemberAnswer.Found<>(
                                "b", on("b", "r1", "FAILED", new StatsView(0, 0, 0, 0, 0, 0, 0)))),
                        List.of("a:LISTENING", "b:FAILED"),
                        1),
                Arguments.of(
                        "a member without it is ABSENT and adds nothing",
                        List.of(new MemberAnswer.NotFound<MemberRelay>("b")),
                        List.of("a:LISTENING", "b:ABSENT"),
                        1),
                Arguments.of(
                        "a member that did not answer is UNREACHABLE and adds nothing",
                        List.of(
                                new MemberAnswer.Unreachable<MemberRelay>("b", "no answer within 2000 ms"),
                                new MemberAnswer.Found<>("c", on("c", "r1", "LISTENING", ONE))),
                        List.of("a:LISTENING", "b:UNREACHABLE", "c:LISTENING"),
                        2));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("answers")
    void oneRelayListsEveryMemberAndSumsTheStatsOfThoseThatAnswered(
            String story, List<MemberAnswer<MemberRelay>> others, List<String> instances, int activeTunnels) {
        RelayView merged = FleetViews.relay(local("r1"), others);

        assertThat(merged.instances().stream().map(i -> i.name() + ":" + i.state()))
                .containsExactlyElementsOf(instances);
        assertThat(merged.stats().activeTunnels()).isEqualTo(activeTunnels);
        assertThat(merged.stats().bytesIn()).isEqualTo(100L * activeTunnels);
        assertThat(merged.state())
                .as("the relay's own state is this instance's")
                .isEqualTo("LISTENING");
    }

    @Test
    void anUnreachableMemberKeepsItsReason() {
        RelayView merged = FleetViews.relay(
                local("r1"), List.of(new MemberAnswer.Unreachable<MemberRelay>("b", "no answer within 2000 ms")));

        assertThat(merged.instances().get(1).error()).isEqualTo("no answer within 2000 ms");
        assertThat(merged.instances().get(1).activeTunnels()).isNull();
    }

    @Test
    void aSuspectMemberIsMarkedForEveryRelayAddsNoStatsAndIsNamedWithTheUnreachable() {
        List<MemberAnswer<List<MemberRelay>>> answers = List.of(
                new MemberAnswer.Found<>("b", List.of(on("b", "r1", "LISTENING", ONE))),
                new MemberAnswer.Suspect<List<MemberRelay>>("c", "no heartbeat since 10:00:00Z"));

        RelayView merged = FleetViews.relays(List.of(local("r1")), answers).get(0);

        assertThat(merged.instances().stream().map(i -> i.name() + ":" + i.state()))
                .containsExactly("a:LISTENING", "b:LISTENING", "c:SUSPECT");
        assertThat(merged.instances().get(2).error()).contains("no heartbeat since");
        assertThat(merged.stats().totalTunnels()).isEqualTo(20);
        assertThat(FleetViews.unreachable(answers)).containsExactly("c");
    }

    @Test
    void theListTakesOneAnswerPerMemberAndMatchesRelaysById() {
        List<RelayView> merged = FleetViews.relays(
                List.of(local("r1"), local("r2")),
                List.of(
                        new MemberAnswer.Found<>("b", List.of(on("b", "r2", "LISTENING", ONE))),
                        new MemberAnswer.Unreachable<List<MemberRelay>>("c", "no answer")));

        assertThat(merged.get(0).instances().stream().map(i -> i.name() + ":" + i.state()))
                .containsExactly("a:LISTENING", "b:ABSENT", "c:UNREACHABLE");
        assertThat(merged.get(1).instances().stream().map(i -> i.name() + ":" + i.state()))
                .containsExactly("a:LISTENING", "b:LISTENING", "c:UNREACHABLE");
        assertThat(merged.get(1).stats().totalTunnels()).isEqualTo(20);
    }

    @Test
    void tunnelsOfEveryMemberThatAnsweredAreMergedOldestFirst() {
        TunnelView onA = tunnel("t1", 5, "a");
        TunnelView onB = tunnel("t2", 1, "b");
        TunnelView onC = tunnel("t3", 3, "c");

        List<TunnelView> merged = FleetViews.tunnels(
                List.of(onA),
                List.of(
                        new MemberAnswer.Found<>("b", List.of(onB)),
                        new MemberAnswer.Found<>("c", List.of(onC)),
                        new MemberAnswer.Unreachable<List<TunnelView>>("d", "no answer")));

        assertThat(merged).extracting(TunnelView::instance).containsExactly("b", "c", "a");
        assertThat(FleetViews.unreachable(List.of(
                        new MemberAnswer.Found<>("b", List.of(onB)),
                        new MemberAnswer.Unreachable<List<TunnelView>>("d", "no answer"))))
                .containsExactly("d");
    }

    private static TunnelView tunnel(String id, long openedAt, String instance) {
        StackView empty = new StackView(0, 0, List.of());
        return new TunnelView(
                id,
                "r1",
                "127.0.0.1:1",
                Instant.ofEpochSecond(openedAt),
                "OPEN",
                1,
                0,
                0,
                empty,
                empty,
                null,
                null,
                instance);
    }
}
