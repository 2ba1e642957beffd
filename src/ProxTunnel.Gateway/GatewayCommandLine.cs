using System.CommandLine;
using System.CommandLine.Help;
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

        if (parseResult.Action is HelpAction)
        {
            WriteHelp(parseResult, Console.Out);
            return ExitCodes.Success;
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
        WriteHelp(parseResult.RootCommandResult.Command.Parse(path), stderr);
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
        prefix.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>() ?? "";
            if (value.Length == 0 || value[0] != '/' || value[^1] != '/')
            {
                // "/p" would glue the prefix to the URL (/phttps://...), which no app route expects.
                result.AddError($"--prefix: '{value}' must start and end with '/', e.g. /prefix/.");
                return;
            }

            Check(result, () => _ = new FixedPrefixResolver(value));
        });

        var proxyHost = new Option<string>("--proxy-host")
        {
            Description = "Host name under which the gateway serves its trust page and root downloads.",
            HelpName = "NAME",
            DefaultValueFactory = _ => ProxyTunnelOptions.DefaultProxyHost,
        };
        proxyHost.Validators.Add(result => CheckHostNames(result, [result.GetValueOrDefault<string>()]));

        var proxyAlias = new Option<string[]>("--proxy-alias")
        {
            Description = "Extra host name whose requests reach the app unprefixed, with Host naming it (repeatable).",
            HelpName = "NAME",
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        proxyAlias.Validators.Add(result => CheckHostNames(result, result.GetValueOrDefault<string[]>() ?? []));

        var auth = new Option<string?>("--auth")
        {
            Description = "Require Basic proxy credentials; the user name becomes the prefix (/alice/http://...). "
                + $"REALM is optional (default: {GatewaySettings.DefaultRealm}). Without --auth-users NO PASSWORD IS CHECKED: any password is accepted.",
            HelpName = "REALM",
            Arity = ArgumentArity.ZeroOrOne,
        };
        auth.Validators.Add(result =>
        {
            var realm = result.Tokens.Count == 0 ? GatewaySettings.DefaultRealm : result.Tokens[0].Value;
            Check(result, () => _ = new ProxyAuthPrefixResolver(realm));
        });

        var authUsers = new Option<FileInfo?>("--auth-users")
        {
            Description = "With --auth: htpasswd file with bcrypt hashes (htpasswd -B); wrong or unknown credentials get 407. Re-read when it changes.",
            HelpName = "FILE",
        };
        authUsers.Validators.Add(result =>
        {
            if (result.Parent is CommandResult command && command.GetResult(auth) is null)
            {
                result.AddError("--auth-users needs --auth.");
            }
            else if (result.GetValueOrDefault<FileInfo?>() is { Exists: false } missing)
            {
                result.AddError($"--auth-users: '{missing.FullName}' does not exist (create it with `htpasswd -B -c FILE USER`).");
            }
        });

        var har = new Option<FileInfo?>("--har")
        {
            Description = "Write every exchange the app answered to FILE as HAR 1.2, entries appended as they complete. "
                + "An existing FILE is never overwritten: the gateway refuses to start.",
            HelpName = "FILE",
        };
        har.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<FileInfo?>() is { Exists: true } existing)
            {
                result.AddError($"--har: '{existing.FullName}' already exists; remove it or name a new file.");
            }
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
            listen, listenTls, prefix, proxyHost, proxyAlias, ca, auth, authUsers, upstream, har, logLevel,
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
                AuthUsers = parseResult.GetValue(authUsers)?.FullName,
                ProxyAliases = parseResult.GetValue(proxyAlias) ?? [],
                HarPath = parseResult.GetValue(har)?.FullName,
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

    /// <summary>Runs the parser's help for <paramref name="helpParse"/> into <paramref name="destination"/>. System.CommandLine
    /// prints <c>--auth &lt;REALM&gt;</c> although the value may be left out; the usage says <c>[REALM]</c> (same width).</summary>
    private static void WriteHelp(ParseResult helpParse, TextWriter destination)
    {
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        helpParse.Invoke(new InvocationConfiguration { Output = text, Error = text });
        destination.Write(text.ToString().Replace("--auth <REALM>", "--auth [REALM]", StringComparison.Ordinal));
        destination.Flush();
    }

    private static void CheckHostNames(OptionResult result, IEnumerable<string?> names)
    {
        foreach (var name in names)
        {
            if (!GatewayHostName.IsValid(name))
            {
                result.AddError($"{result.Option.Name}: '{name}' is not a host name (letters, digits, '-' and '.'; no IPv6 literal, port or scheme).");
            }
        }
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
