using System.CommandLine;
using System.CommandLine.Parsing;
using Microsoft.Extensions.Logging;
using ProxTunnel.Certificates;
using ProxTunnel.Resolvers;

namespace ProxTunnel.Gateway;

/// <summary>The <c>proxtunnel</c> command line: the gateway itself and the <c>ca</c> subcommands.</summary>
internal static class GatewayCommandLine
{
    /// <summary>Parses <paramref name="args"/>, runs the chosen command and returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            return ReportUsageError(parseResult, parseResult.Errors.Select(e => e.Message));
        }

        // The host handles Ctrl+C / SIGTERM itself; System.CommandLine must not race it.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        return await parseResult.InvokeAsync(invocation).ConfigureAwait(false);
    }

    /// <summary>Prints the errors and the usage of the command they belong to on stderr; returns <see cref="ExitCodes.Usage"/>.</summary>
    public static int ReportUsageError(ParseResult parseResult, IEnumerable<string> errors)
    {
        var stderr = Console.Error;
        foreach (var error in errors)
        {
            stderr.WriteLine($"error: {error}");
        }

        stderr.WriteLine();

        // The usage of the command the error belongs to, produced by the parser's own help action but sent to stderr.
        var path = new List<string>();
        for (var result = parseResult.CommandResult; result.Parent is CommandResult parent; result = parent)
        {
            path.Insert(0, result.Command.Name);
        }

        path.Add("--help");
        parseResult.RootCommandResult.Command.Parse(path).Invoke(new InvocationConfiguration { Output = stderr, Error = stderr });
        stderr.Flush();
        return ExitCodes.Usage;
    }

    /// <summary>Builds the command tree.</summary>
    public static RootCommand Build()
    {
        var ca = new Option<string>("--ca")
        {
            Description = "Root CA file (private key and certificate, PEM); created on first use.",
            HelpName = "PATH",
            DefaultValueFactory = _ => CertificateAuthorityOptions.DefaultRootCertificatePath,
            Recursive = true,
        };
        ca.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
            {
                result.AddError("--ca needs a file path.");
            }
        });

        var listen = EndpointOption("--listen", $"Plain listener, HTTP and HTTPS proxy on one port (repeatable). Default: {GatewaySettings.DefaultListen}.");
        var listenTls = EndpointOption("--listen-tls", "Listener that speaks TLS itself, for `curl --proxy https://...` (repeatable).");

        var prefix = new Option<string>("--prefix")
        {
            Description = "Prefix put before every rewritten URL: /prefix/https://example.com/a.",
            HelpName = "PREFIX",
            DefaultValueFactory = _ => GatewaySettings.DefaultPrefix,
        };
        prefix.Validators.Add(result => Check(result, () => _ = new FixedPrefixResolver(result.GetValueOrDefault<string>() ?? "")));

        var proxyHost = new Option<string>("--proxy-host")
        {
            Description = "Host name under which the gateway serves its trust page and root downloads.",
            HelpName = "NAME",
            DefaultValueFactory = _ => ProxyTunnelOptions.DefaultProxyHost,
        };
        proxyHost.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>();
            if (string.IsNullOrWhiteSpace(value) || Uri.CheckHostName(value) == UriHostNameType.Unknown)
            {
                result.AddError($"--proxy-host: '{value}' is not a host name.");
            }
        });

        var auth = new Option<string?>("--auth")
        {
            Description = $"Require Basic proxy credentials; the user name becomes the prefix (/alice/http://...). Realm default: {GatewaySettings.DefaultRealm}.",
            HelpName = "REALM",
            Arity = ArgumentArity.ZeroOrOne,
        };
        auth.Validators.Add(result =>
        {
            var realm = result.Tokens.Count == 0 ? GatewaySettings.DefaultRealm : result.Tokens[0].Value;
            Check(result, () => _ = new ProxyAuthPrefixResolver(realm));
        });

        var upstream = new Option<Uri?>("--upstream")
        {
            Description = "Forward every rewritten request (WebSockets included) to this backend instead of the built-in inspector.",
            HelpName = "URL",
            CustomParser = ParseUpstream,
        };

        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Trace, Debug, Information, Warning, Error, Critical or None (logs go to stderr).",
            HelpName = "LEVEL",
            DefaultValueFactory = _ => LogLevel.Information,
        };

        var root = new RootCommand(
            "ProxTunnel gateway: an HTTP/HTTPS proxy that rewrites every request to <prefix><absolute URL> and answers it "
            + "with a built-in inspector or forwards it to --upstream.")
        {
            listen, listenTls, prefix, proxyHost, ca, auth, upstream, logLevel,
        };
        root.Add(CaCommands.Build(ca));
        root.SetAction((parseResult, cancellationToken) =>
        {
            var endpoints = parseResult.GetValue(listen) ?? [];
            var tlsEndpoints = parseResult.GetValue(listenTls) ?? [];
            if (endpoints.Length == 0 && tlsEndpoints.Length == 0)
            {
                endpoints = ListenEndpoint.TryParse(GatewaySettings.DefaultListen, out var fallback, out _) ? [fallback] : [];
            }

            string? realm = null;
            if (parseResult.GetResult(auth) is not null)
            {
                realm = parseResult.GetValue(auth);
                realm = string.IsNullOrEmpty(realm) ? GatewaySettings.DefaultRealm : realm;
            }

            var settings = new GatewaySettings
            {
                Listen = endpoints,
                ListenTls = tlsEndpoints,
                Prefix = parseResult.GetValue(prefix)!,
                ProxyHost = parseResult.GetValue(proxyHost)!,
                CaPath = parseResult.GetValue(ca)!,
                AuthRealm = realm,
                Upstream = parseResult.GetValue(upstream),
                LogLevel = parseResult.GetValue(logLevel),
            };
            return GatewayServer.RunAsync(settings, cancellationToken);
        });
        return root;
    }

    private static Option<ListenEndpoint[]> EndpointOption(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "ADDR:PORT",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
        CustomParser = ParseEndpoints,
    };

    private static ListenEndpoint[] ParseEndpoints(ArgumentResult result)
    {
        var endpoints = new List<ListenEndpoint>(result.Tokens.Count);
        foreach (var token in result.Tokens)
        {
            if (ListenEndpoint.TryParse(token.Value, out var endpoint, out var error))
            {
                endpoints.Add(endpoint);
            }
            else
            {
                result.AddError(error);
            }
        }

        return [.. endpoints];
    }

    private static Uri? ParseUpstream(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment))
        {
            return uri;
        }

        result.AddError($"--upstream: '{text}' is not an absolute http:// or https:// URL without query.");
        return null;
    }

    private static void Check(OptionResult result, Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentException ex)
        {
            result.AddError($"{result.Option.Name}: {ex.Message}");
        }
    }
}
