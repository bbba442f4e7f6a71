package dev.onionrelay.boot;

import dev.onionrelay.registry.RelayRequest;
import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler;
import org.springframework.core.env.Environment;

/**
 * Stops the start when an {@code onion.relays[i]} key names nothing (a misspelt {@code onion.relays[0].egres[0].trust}),
 * naming the key: as an unknown field in a request body is a 400, a typo in a declared relay must not silently drop a
 * layer or a check.
 */
public final class DeclaredRelayKeys {

    private DeclaredRelayKeys() {}

    /**
     * Binds {@code onion.relays} once more, refusing every key left unbound; a bean made by this runs before the
     * declared relays open.
     *
     * @throws org.springframework.boot.context.properties.bind.BindException naming the keys that name nothing
     */
    public static DeclaredRelayKeys checked(Environment environment) {
        Binder.get(environment)
                .bind(
                        "onion.relays",
                        Bindable.listOf(RelayRequest.class),
                        new NoUnboundElementsBindHandler(BindHandler.DEFAULT));
        return new DeclaredRelayKeys();
    }
}
