package dev.onionrelay.relay.target;

import static org.assertj.core.api.Assertions.assertThat;

import dev.onionrelay.relay.Endpoint;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The order tunnels try a relay's fixed targets in, and how long a target that failed stays at the back. */
class TargetBalancerTest {

    private final AtomicLong now = new AtomicLong(1_000);

    private TargetBalancer balancer(TargetSpec.Balance balance) {
        TargetSpec spec = new TargetSpec(
                TargetSpec.Mode.FIXED,
                List.of(new Endpoint("a", 1), new Endpoint("b", 2), new Endpoint("c", 3)),
                balance);
        return new TargetBalancer(spec, Duration.ofNanos(100), now::get);
    }

    @Test
    void failoverAlwaysStartsAtTheFirst() {
        TargetBalancer failover = balancer(TargetSpec.Balance.FAILOVER);
        assertThat(failover.order()).containsExactly(0, 1, 2);
        assertThat(failover.order()).containsExactly(0, 1, 2);
    }

    @Test
    void roundRobinStartsOneFurtherEachTime() {
        TargetBalancer roundRobin = balancer(TargetSpec.Balance.ROUND_ROBIN);
        assertThat(roundRobin.order()).containsExactly(0, 1, 2);
        assertThat(roundRobin.order()).containsExactly(1, 2, 0);
        assertThat(roundRobin.order()).containsExactly(2, 0, 1);
        assertThat(roundRobin.order()).containsExactly(0, 1, 2);
    }

    @Test
    void aDownTargetIsTriedAfterTheOthersUntilItsDownTimeHasPassed() {
        TargetBalancer failover = balancer(TargetSpec.Balance.FAILOVER);
        failover.markDown(0);
        assertThat(failover.order()).containsExactly(1, 2, 0);
        now.addAndGet(99);
        assertThat(failover.isDown(0)).isTrue();
        now.addAndGet(1);
        assertThat(failover.isDown(0)).isFalse();
        assertThat(failover.order()).containsExactly(0, 1, 2);
    }

    @Test
    void whenAllAreDownAllAreStillTriedInOrder() {
        TargetBalancer failover = balancer(TargetSpec.Balance.FAILOVER);
        failover.markDown(2);
        failover.markDown(0);
        failover.markDown(1);
        assertThat(failover.order()).containsExactly(0, 1, 2);
    }

    @Test
    void aSuccessfulConnectMarksATargetUpAtOnce() {
        TargetBalancer failover = balancer(TargetSpec.Balance.FAILOVER);
        failover.markDown(0);
        failover.markUp(0);
        assertThat(failover.order()).containsExactly(0, 1, 2);
    }
}
