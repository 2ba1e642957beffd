using System.Buffers;
using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ProxTunnel.Benchmarks.Load;

/// <summary>
/// The reference apps the gateway scenarios compare against, each run as a child process like the gateway itself:
/// <c>serve-json</c> is a bare Kestrel app answering JSON shaped like the inspector's (and the backend of the YARP
/// scenarios); <c>serve-yarp URL</c> is a bare YARP forwarder to URL. Each prints <c>LISTENING PORT</c> and runs until
/// its stdin closes or a line arrives.
/// </summary>
internal static class ChildApps
{
    public const string Json = "serve-json";
    public const string Yarp = "serve-yarp";

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<int> RunAsync(string command, string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Listen(IPAddress.Loopback, 0);
        });
        if (command == Yarp)
        {
            builder.Services.AddHttpForwarder();
        }

        var app = builder.Build();
        if (command == Yarp)
        {
            app.MapForwarder("/{**catch-all}", args[0]);
        }
        else
        {
            app.Run(DescribeAsync);
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"LISTENING {new Uri(address).Port}");
        await Console.In.ReadLineAsync();
        await app.StopAsync();
        return 0;
    }

    /// <summary>What an app author would write for the inspector's JSON: drain the body, describe the request.</summary>
    private static async Task DescribeAsync(HttpContext context)
    {
        long bodyLength = 0;
        var reader = context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync();
            bodyLength += result.Buffer.Length;
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        var request = context.Request;
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("method", request.Method);
            json.WriteString("target", context.Features.Get<IHttpRequestFeature>()!.RawTarget);
            json.WriteString("host", request.Host.Value);
            json.WriteBoolean("isHttps", request.IsHttps);
            json.WriteStartObject("headers");
            foreach (var header in request.Headers)
            {
                json.WriteString(header.Key, header.Value.ToString());
            }

            json.WriteEndObject();
            json.WriteNumber("bodyLength", bodyLength);
            json.WriteNull("tunnel");
            json.WriteEndObject();
        }

        buffer.Write("\n"u8);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory);
    }
}
