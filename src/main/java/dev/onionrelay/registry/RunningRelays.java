package dev.onionrelay.registry;

import dev.onionrelay.relay.Relay;
import dev.onionrelay.relay.RelayState;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The registry's relays and creates under way as the {@link SpecRules} clash checks see them. Reads the registry's
 * maps as they are: the registry calls the checks under its lock, so the answer and the name's reservation that
 * follows are one step.
 */
final class RunningRelays implements SpecRules.Running {

    private final Map<String, Relay> relays;
    private final Map<String, String> creating;
    private final DeclaredRelays declared;
    /** The registry's lookup by id or, failing that, by name. */
    private final Function<String, Optional<Relay>> find;

    RunningRelays(
            Map<String, Relay> relays,
            Map<String, String> creating,
            DeclaredRelays declared,
            Function<String, Optional<Relay>> find) {
        this.relays = relays;
        this.creating = creating;
        this.declared = declared;
        this.find = find;
    }

    @Override
    public SpecRules.NameUse nameUse(String name) {
        if (creating.containsKey(name)) {
            return SpecRules.NameUse.CREATING;
        }
        return find.apply(name)
                .map(relay -> declared.contains(relay.id()) ? SpecRules.NameUse.DECLARED : SpecRules.NameUse.TAKEN)
                .orElse(SpecRules.NameUse.FREE);
    }

    @Override
    public Optional<String> listeningOn(int port) {
        return relays.values().stream()
                .filter(other -> other.spec().listen().port() == port && other.state() == RelayState.LISTENING)
                .map(other -> other.spec().name())
                .findFirst();
    }
}
