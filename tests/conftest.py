pytest_plugins = ["sansio_ssooidc.adapters.pytest_plugin", "tests.canary_plugin", "pytester"]
