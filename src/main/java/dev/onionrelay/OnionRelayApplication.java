package dev.onionrelay;

import dev.onionrelay.layer.TlsHardening;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The onion-relay service: REST API, actuator and the nested-TLS engine. */
@SpringBootApplication
public class OnionRelayApplication {
    public static void main(String[] args) {
        TlsHardening.apply();
        try {
            SpringApplication.run(OnionRelayApplication.class, args);
        } catch (RuntimeException e) {
            // Spring Boot has reported why (a store with the wrong key: one line naming it). Exit non-zero even if a
            // thread started before the failure would keep the JVM alive.
            System.exit(1);
        }
    }
}
