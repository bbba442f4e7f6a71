/**
 * Observability around the engine: the {@code /actuator/onion} endpoint, the {@code onion} health component and the
 * {@code onion_*} Prometheus metrics of API.md.
 *
 * <p>Everything here listens to engine events ({@link dev.onionrelay.relay.RelayObserver}) or reads relay statistics;
 * nothing here touches a Netty pipeline. Metric labels carry only relay names, sides, configured layer names and
 * bounded reason values, never peer addresses or tunnel ids (see {@link dev.onionrelay.observe.OnionMetrics}).
 */
@NullMarked
package dev.onionrelay.observe;

import org.jspecify.annotations.NullMarked;
