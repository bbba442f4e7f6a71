package dev.onionrelay;

import dev.onionrelay.layer.TlsHardening;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The onion-relay service: REST API, actuator and the nested-TLS engine. */
@SpringBootApplication
public class OnionRelayApplication {
    public static void main(String[] args) {
        TlsHardening.apply();
        SpringApplication.run(OnionRelayApplication.class, args);
    }
}
