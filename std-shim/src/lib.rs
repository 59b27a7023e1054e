pub use linewire::*;
