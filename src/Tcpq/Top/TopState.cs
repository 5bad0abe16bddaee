namespace Tcpq.Top;

/// <summary>What the keys change: the sort, its direction, pause, quit.</summary>
public sealed class TopState(TopSort sort)
{
    public TopSort Sort { get; private set; } = sort;
    public bool Reversed { get; private set; }
    public bool Paused { get; private set; }
    public bool Quit { get; private set; }

    /// <summary>Applies a key; true when the screen should be drawn again.</summary>
    public bool Apply(ConsoleKeyInfo key)
    {
        if (key.Key == ConsoleKey.C && key.Modifiers.HasFlag(ConsoleModifiers.Control)) { Quit = true; return false; }
        switch (key.KeyChar)
        {
            case 'q' or 'Q': Quit = true; return false;
            case 'p' or 'P' or ' ': Paused = !Paused; return true;
            case '>' or '.' or 's': Sort = TopColumns.Next(Sort, +1); Reversed = false; return true;
            case '<' or ',': Sort = TopColumns.Next(Sort, -1); Reversed = false; return true;
            case 'r' or 'R': Reversed = !Reversed; return true;
            case 'w' or 'W': Sort = TopSort.Worst; Reversed = false; return true;
        }
        if (key.Key == ConsoleKey.RightArrow) { Sort = TopColumns.Next(Sort, +1); Reversed = false; return true; }
        if (key.Key == ConsoleKey.LeftArrow) { Sort = TopColumns.Next(Sort, -1); Reversed = false; return true; }
        return false;
    }
}
