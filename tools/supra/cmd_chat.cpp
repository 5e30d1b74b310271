// supra chat: an interactive conversation in the terminal (or through a pipe), in one
// recurrent state, with /save, /load, /reset and /exit.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "chat_session.h"
#include "commands.h"
#include "sampling_flags.h"
#include "supra/error.h"

namespace supra::cli {
namespace {

struct ChatFlags {
  std::string model;
  SamplingFlags sampling;
  std::string chat_template = "mistral";
  std::string system;
  int threads = 0;
};

const char* const kHelp = "commands: /save FILE, /load FILE, /reset, /exit (or end of input)";

void write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// A /command; false when the session should end. A failing command is reported on stderr and
// the conversation goes on as it was; `failed` records it for the exit status.
bool run_command(const std::string& line, ChatSession& chat, bool& failed) {
  const std::size_t space = line.find(' ');
  const std::string name = line.substr(0, space);
  std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
  arg.erase(0, arg.find_first_not_of(' '));  // all spaces: erased whole
  try {
    if (name == "/exit" || name == "/quit") return false;
    if (name == "/reset" && arg.empty()) {
      chat.reset();
      std::fprintf(stderr, "[new conversation]\n");
    } else if ((name == "/save" || name == "/load") && !arg.empty()) {
      if (name == "/save")
        chat.save(arg);
      else
        chat.load(arg);
      std::fprintf(stderr, "[%s %s: %zu tokens]\n", name == "/save" ? "saved to" : "loaded from", arg.c_str(),
                   chat.tokens());
    } else {
      throw Error("unknown or incomplete command \"" + line + "\"; " + kHelp);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    failed = true;
  }
  return true;
}

void run(const ChatFlags& f) {
  apply_threads(f.threads);
  const auto folder = model_folder(f.model);
  const ChatTemplate& chat_template = find_chat_template(f.chat_template);
  GenerationOptions options = apply_sampling_flags(f.sampling, load_generation_defaults(folder));
  const Tokenizer tokenizer = Tokenizer::load_folder(folder);
  const Model model = Model::load(folder);
  if (options.stop_ids.empty()) options.stop_ids = tokenizer.eos_ids();
  ChatSession chat = [&] {
    try {
      return ChatSession(model, tokenizer, chat_template, f.system, options, f.sampling.stop);
    } catch (const Error& e) {
      throw Error("--chat-template " + f.chat_template + ": " + e.what());
    }
  }();
  announce_sampling(f.sampling, options);

  const bool terminal = isatty(STDIN_FILENO) != 0;
  if (terminal) std::fprintf(stderr, "supra chat (template %s); %s\n", f.chat_template.c_str(), kHelp);
  bool failed = false;
  std::string line;
  while (true) {
    if (terminal) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.front() == '/') {
      if (!run_command(line, chat, failed)) break;
      continue;
    }
    const ChatSession::Turn turn = chat.reply(line, write);
    write("\n");
    std::fprintf(stderr, "[%zu tokens read, %zu generated; conversation %zu tokens]\n", turn.read, turn.generated,
                 chat.tokens());
  }
  if (failed) throw Error("a command of the session failed (reported above)");
}

}  // namespace

void add_chat(CLI::App& app) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* cmd = app.add_subcommand(
      "chat", "chat in the terminal: one message per line on stdin, replies streamed to stdout (/save, /load, /reset, /exit)");
  add_model_option(*cmd, flags->model);
  add_sampling_options(*cmd, flags->sampling);
  cmd->add_option("--chat-template", flags->chat_template,
                  "template of the conversation: " + chat_template_names() + " (default mistral, as supra serve)");
  cmd->add_option("--system", flags->system, "system message of the conversation");
  add_threads_option(*cmd, flags->threads);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace supra::cli
