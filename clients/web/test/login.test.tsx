import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { Login } from "../src/components/Login";

describe("the login screen", () => {
  it("logs in with an API key, or a pasted credentials file", () => {
    const onLogin = vi.fn();
    render(<Login onLogin={onLogin} error={null} busy={false} />);
    fireEvent.change(screen.getByLabelText("Key id"),
                     { target: { value: '{"name": "demo", "key_id": "gwk_1", "secret": "s"}' } });
    expect((screen.getByLabelText("Secret") as HTMLInputElement).value).toBe("s");
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(onLogin).toHaveBeenCalledWith({ keyId: "gwk_1", secret: "s" }, true);
  });

  it("logs in with a user name and password, never kept", () => {
    const onLogin = vi.fn();
    render(<Login onLogin={onLogin} error="wrong user name or password" busy={false} />);
    fireEvent.click(screen.getByRole("tab", { name: "Password" }));
    fireEvent.change(screen.getByLabelText("User name"), { target: { value: "asha" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse" } });
    expect(screen.queryByLabelText("Stay logged in on this tab")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(onLogin).toHaveBeenCalledWith({ username: "asha", password: "correct horse" }, false);
    expect(screen.getByRole("alert").textContent).toBe("wrong user name or password");
  });
});
