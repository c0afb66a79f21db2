//! The one integration-test target: each area of end-to-end behaviour is a module, so the crate is
//! linked once for all of them (several targets each linking the whole crate are slow on 2 cores).

mod actions;
mod camera;
mod cli;
mod common;
mod compare;
mod demo;
mod finetune;
mod hand_live;
mod handmodel;
mod hands_graph;
mod hands_tflite;
mod heads;
mod install;
mod layering;
mod parity;
mod pipeline;
mod readme_commands;
mod record;
mod something;
mod teach_landmarks;
mod teach_ui;
mod training;
mod ui;
mod v4l2;
mod video;
