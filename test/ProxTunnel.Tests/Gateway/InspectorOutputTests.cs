using ProxTunnel.Tests.Infrastructure;

namespace ProxTunnel.Tests.Gateway;

/// <summary>The inspector's answers where its fast paths (no query parsing, no hash object) must not show.</summary>
[NonParallelizable]
public sealed class InspectorOutputTests
{
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private GatewayProcess _gateway = null!;

    [OneTimeSetUp]
    public async Task StartAsync() => _gateway = await GatewayProcess.StartAsync();

    [OneTimeTearDown]
    public async Task StopAsync() => await _gateway.DisposeAsync();

    private async Task<RawResponse> SendAsync(string head)
    {
        await using var connection = await RawHttpConnection.OpenAsync(_gateway.Port);
        await connection.SendAsync(head);
        return await connection.ReadResponseAsync();
    }

    [TestCase("?SIZE=5", 5)]
    [TestCase("?%73ize=4", 4)]
    [TestCase("?a=1&size=3", 3)]
    public async Task SizeQuery_WhenNameCasedOrPercentEncoded_IsObeyed(string query, int size)
    {
        var response = await SendAsync($"GET http://example.com/q{query} HTTP/1.1\r\nHost: example.com\r\n\r\n");

        Assert.That(response.Status, Is.EqualTo(200));
        Assert.That(response.Body, Has.Length.EqualTo(size));
        Assert.That(response.Headers["Content-Type"], Is.EqualTo("application/octet-stream"));
    }

    [TestCase("?sizes=3")]
    [TestCase("?x=1&y=2")]
    public async Task Query_WithoutInspectorParameters_AnswersJson(string query)
    {
        var response = await SendAsync($"GET http://example.com/q{query} HTTP/1.1\r\nHost: example.com\r\n\r\n");

        Assert.That((string?)response.Json["target"], Is.EqualTo($"/prefix/http://example.com/q{query}"));
    }

    [Test]
    public async Task Post_WithEmptyBody_ReportsTheHashOfNothing()
    {
        var response = await SendAsync("POST http://example.com/e HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n");

        Assert.That((long?)response.Json["bodyLength"], Is.EqualTo(0));
        Assert.That((string?)response.Json["bodySha256"], Is.EqualTo(EmptySha256));
    }

    [Test]
    public async Task Get_WithRepeatedHeaderLines_JoinsThemWithCommaSpace()
    {
        var response = await SendAsync("GET http://example.com/h HTTP/1.1\r\nHost: example.com\r\nX-Multi: one\r\nX-Multi: two\r\n\r\n");

        Assert.That((string?)response.Json["headers"]!["X-Multi"], Is.EqualTo("one, two"));
        Assert.That((string?)response.Json["bodySha256"], Is.EqualTo(EmptySha256));
    }

    [Test]
    public async Task Response_WithContentLength_IsExactlyOneJsonLine()
    {
        var response = await SendAsync("GET http://example.com/one HTTP/1.1\r\nHost: example.com\r\n\r\n");

        Assert.That(response.Headers["Content-Length"], Is.EqualTo(response.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(response.Text, Does.EndWith("}\n"));
        Assert.That(response.Text.Count(c => c == '\n'), Is.EqualTo(1));
    }
}
