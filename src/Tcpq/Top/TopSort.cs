namespace Tcpq.Top;

/// <summary>The column <c>tcpq top</c> orders listeners by (<c>--sort</c>, or the keys &lt; &gt;);
/// the first is the default. In the order of the columns on screen.</summary>
public enum TopSort { Worst, Listener, Arrivals, Accepts, Queue, Peak, Drops, Cookies, Handshake, Wait }
